# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False
"""Compiled versions of the scoring path's innermost loops, built at set-up
(``make setup`` / ``make test`` run ``cythonize``). Where they are not built, ``features``
and ``lookup`` do the same work on numpy arrays: the same results, a few milliseconds more
per batch.

What a comment brings is bounded before it is read: its words come only as bytes, each
read through a 256-entry table whose entries are checked here; lengths, group and value
indexes are checked, and hash slots masked. One thing is left to the caller, as checking
it costs a scan of the whole trie per call: the trie's children must point at rows of
``node_sums`` (``features.CharProducts`` checks it once, when it is built)."""


import numpy as np


def sums_down_the_trie(const unsigned char[::1] text, const long long[::1] lengths,
                       const int[::1] columns, const int[::1] children, int width,
                       int n_inner, int longest, const double[:, ::1] node_sums,
                       double[:, ::1] out) -> None:
    """Add to ``out[w]`` the ``node_sums`` row of the deepest node that each window start of
    padded word ``w`` reaches.

    ``text``: the words, each padded by a space on each side, neighbours sharing the space
    between them (" one two "); ``lengths``: each word's length unpadded. ``columns``: a
    column per byte value (0 for a character no n-gram holds, which no node has a child
    at). A window grows one character at a time while its node has children (is below
    ``n_inner``), up to ``longest`` characters, never past its word's closing space."""
    cdef Py_ssize_t word, start = 0, end, first, at, k
    cdef Py_ssize_t n_outputs = node_sums.shape[1]
    cdef int node, child, deepest
    cdef Py_ssize_t byte
    if columns.shape[0] < 256:
        raise ValueError("columns needs an entry for every byte value")
    for byte in range(256):
        if not 0 <= columns[byte] < width:
            raise ValueError("a column is outside the children's rows")
    if children.shape[0] < <Py_ssize_t>n_inner * width:
        raise ValueError("children needs a row of width entries per inner node")
    if out.shape[1] != n_outputs or out.shape[0] < lengths.shape[0]:
        raise ValueError("out needs a row per word and a column per node sum")
    for word in range(lengths.shape[0]):
        if lengths[word] < 0:
            raise ValueError("a length is negative")
    with nogil:
        for word in range(lengths.shape[0]):
            end = start + lengths[word] + 2
            if end > text.shape[0]:
                with gil:
                    raise ValueError("text, lengths and out disagree")
            for first in range(start, end):
                node = 0
                deepest = 0
                at = first
                while at < end and at - first < longest:
                    child = children[<Py_ssize_t>node * width + columns[text[at]]]
                    if child < 0:
                        break
                    deepest = child
                    if child >= n_inner:
                        break
                    node = child
                    at += 1
                if deepest:
                    for k in range(n_outputs):
                        out[word, k] += node_sums[deepest, k]
            start = end - 1


def distinct_by_group(const long long[::1] groups, const long long[::1] values,
                      Py_ssize_t n_groups, long long[::1] marks, long long first_mark,
                      long long[::1] groups_out, long long[::1] values_out):
    """Write each group's distinct values to ``groups_out``/``values_out``, the groups in
    ascending order, a group's values in the order they first come; return how many.

    ``marks`` has an entry per possible value, each below ``first_mark``: group ``g``
    marks a value ``first_mark + g`` when it writes it, so one pass, with no sorting,
    finds repeats, and a caller that moves ``first_mark`` past the marks used keeps one
    array for every call (none the size of all values made per call)."""
    cdef Py_ssize_t n = groups.shape[0], n_values = marks.shape[0], i, at, written = 0
    cdef long long value, group, mark
    if values.shape[0] != n or groups_out.shape[0] < n or values_out.shape[0] < n:
        raise ValueError("groups, values and the outputs disagree in length")
    if n_groups < 0 or first_mark < 0 or first_mark > 2 ** 62 - n_groups:
        raise ValueError("n_groups or first_mark out of range")
    for i in range(n):
        if not (0 <= groups[i] < n_groups and 0 <= values[i] < n_values):
            raise ValueError("a group or value is out of range")
    cdef long long[::1] starts = np.zeros(n_groups + 1, np.int64)
    cdef long long[::1] by_group = np.empty(n, np.int64)
    with nogil:
        # Counting sort by group (stable): where each group's values start.
        for i in range(n):
            starts[groups[i] + 1] += 1
        for i in range(n_groups):
            starts[i + 1] += starts[i]
        for i in range(n):
            by_group[starts[groups[i]]] = values[i]
            starts[groups[i]] += 1
        at = 0
        for group in range(n_groups):  # starts[group] is now where the next group starts
            mark = first_mark + group
            for i in range(at, starts[group]):
                value = by_group[i]
                if marks[value] != mark:
                    marks[value] = mark
                    groups_out[written] = group
                    values_out[written] = value
                    written += 1
            at = starts[group]
    return written


def find_keys(const long long[::1] keys, const long long[::1] table_keys,
              const int[::1] table_ids, unsigned long long multiplier, int shift,
              long long[::1] out) -> None:
    """``out[i]``: the id of ``keys[i]`` in an open-addressing table with linear probing
    (``lookup.IntegerLookup``'s), -1 where absent. A key's first slot is its product with
    ``multiplier`` (modulo 2 ** 64) shifted right by ``shift``. The table's size is a power
    of two, ``2 ** (64 - shift)``, with at least one empty slot (-1), where every probe
    stops."""
    cdef Py_ssize_t i, n = keys.shape[0], size = table_keys.shape[0]
    cdef unsigned long long slot, mask = <unsigned long long>size - 1
    cdef long long key, stored
    if out.shape[0] < n or table_ids.shape[0] != size:
        raise ValueError("keys, table and out disagree in length")
    if not 0 < shift < 64 or (<unsigned long long>1) << (64 - shift) != <unsigned long long>size:
        raise ValueError("the table's size must be 2 ** (64 - shift)")
    with nogil:
        for i in range(n):
            key = keys[i]
            out[i] = -1
            if key < 0:
                continue
            slot = (<unsigned long long>key * multiplier) >> shift
            while True:
                stored = table_keys[slot]
                if stored == key:
                    out[i] = table_ids[slot]
                    break
                if stored == -1:
                    break
                slot = (slot + 1) & mask
