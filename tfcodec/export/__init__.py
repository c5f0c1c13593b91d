"""Edge export of the hyperprior family: TFLite models (float16, int8, Edge TPU).

    tfcodec export --weights FILE --out DIR --int8 --calibration TRAIN_FOLDER
    tfcodec export --model default --out DIR --edgetpu --height 512 --width 768 \\
        --calibration TRAIN_FOLDER     (python -m tfcodec.export ... is the same command)

`tfcodec.export.exporter.export` does the work (TensorFlow); the flatbuffer
reader and the Edge TPU check (`tfcodec.export.edgetpu`) need no TensorFlow.
The folder written is what `tfcodec.edge` loads on the device; see docs/edge.md.
"""
