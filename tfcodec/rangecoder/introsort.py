"""A port of libstdc++'s ``std::sort`` (introsort), comparison for comparison.

``std::sort`` is not stable: items with equal keys end up in an order that
depends on the algorithm's exact steps. TFC's ``pmf_to_quantized_cdf`` sorts
its fix-up queue with it, so replaying TFC's result integer for integer
needs the same partitioning, median choice, heap fallback and final
insertion sort, which Python's (stable) ``sorted`` does not give.
"""

from __future__ import annotations


def libstdcxx_sort(a: list, comp) -> None:
    """In-place replica of libstdc++'s ``std::sort`` (introsort), so that equal
    keys end up in the same order as in TFC's compiled kernel."""
    n = len(a)
    if n < 2:
        return
    _introsort_loop(a, 0, n, 2 * (n.bit_length() - 1), comp)
    if n > 16:
        _insertion_sort(a, 0, 16, comp)
        for i in range(16, n):
            _unguarded_linear_insert(a, i, comp)
    else:
        _insertion_sort(a, 0, n, comp)


def _introsort_loop(a, first, last, depth, comp):
    while last - first > 16:
        if depth == 0:
            _heap_sort(a, first, last, comp)
            return
        depth -= 1
        mid = first + (last - first) // 2
        _move_median_to_first(a, first, first + 1, mid, last - 1, comp)
        cut = _unguarded_partition(a, first + 1, last, first, comp)
        _introsort_loop(a, cut, last, depth, comp)
        last = cut


def _move_median_to_first(a, result, i, j, k, comp):
    # libstdc++'s two branches are one with i and j swapped: same compares,
    # in the same order.
    lo, hi = (i, j) if comp(a[i], a[j]) else (j, i)
    if comp(a[hi], a[k]):
        m = hi
    elif comp(a[lo], a[k]):
        m = k
    else:
        m = lo
    a[result], a[m] = a[m], a[result]


def _unguarded_partition(a, first, last, pivot, comp):
    while True:
        while comp(a[first], a[pivot]):
            first += 1
        last -= 1
        while comp(a[pivot], a[last]):
            last -= 1
        if not first < last:
            return first
        a[first], a[last] = a[last], a[first]
        first += 1


def _insertion_sort(a, first, last, comp):
    for i in range(first + 1, last):
        if comp(a[i], a[first]):
            val = a[i]
            a[first + 1:i + 1] = a[first:i]
            a[first] = val
        else:
            _unguarded_linear_insert(a, i, comp)


def _unguarded_linear_insert(a, last, comp):
    val = a[last]
    nxt = last - 1
    while comp(val, a[nxt]):
        a[last] = a[nxt]
        last = nxt
        nxt -= 1
    a[last] = val


def _heap_sort(a, first, last, comp):
    # std::__partial_sort(first, last, last): make_heap then sort_heap.
    length = last - first
    if length >= 2:
        parent = (length - 2) // 2
        while True:
            _adjust_heap(a, first, parent, length, a[first + parent], comp)
            if parent == 0:
                break
            parent -= 1
    while last - first > 1:
        last -= 1
        val = a[last]
        a[last] = a[first]
        _adjust_heap(a, first, 0, last - first, val, comp)


def _adjust_heap(a, first, hole, length, val, comp):
    top = hole
    child = hole
    while child < (length - 1) // 2:
        child = 2 * (child + 1)
        if comp(a[first + child], a[first + child - 1]):
            child -= 1
        a[first + hole] = a[first + child]
        hole = child
    if length % 2 == 0 and child == (length - 2) // 2:
        child = 2 * (child + 1)
        a[first + hole] = a[first + child - 1]
        hole = child - 1
    parent = (hole - 1) // 2
    while hole > top and comp(a[first + parent], val):
        a[first + hole] = a[first + parent]
        hole = parent
        parent = (hole - 1) // 2
    a[first + hole] = val
