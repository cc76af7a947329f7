"""The bounded LRU cache behind pipeline.speech."""

import threading

from pipeline.speech.cache import LRUCache


def make(max_entries=3, max_bytes=1000):
    return LRUCache(max_entries, max_bytes, size_of=len)


def test_get_after_put_hits_and_counts():
    cache = make()
    assert cache.get("a") is None
    cache.put("a", b"xx")
    assert cache.get("a") == b"xx"
    info = cache.info()
    assert (info.hits, info.misses, info.entries, info.bytes) == (1, 1, 1, 2)


def test_evicts_least_recently_used_past_max_entries():
    cache = make(max_entries=2)
    cache.put("a", b"1")
    cache.put("b", b"2")
    cache.get("a")  # a is now newer than b
    cache.put("c", b"3")
    assert cache.get("b") is None
    assert cache.get("a") == b"1" and cache.get("c") == b"3"
    assert len(cache) == 2


def test_evicts_past_max_bytes_and_skips_oversized_values():
    cache = make(max_entries=10, max_bytes=10)
    cache.put("a", b"x" * 6)
    cache.put("b", b"y" * 6)
    assert cache.get("a") is None and cache.get("b") == b"y" * 6
    cache.put("huge", b"z" * 11)
    assert cache.get("huge") is None and cache.get("b") is not None
    assert cache.info().bytes == 6


def test_replacing_a_key_keeps_byte_count_right():
    cache = make()
    cache.put("a", b"x" * 5)
    cache.put("a", b"x" * 2)
    assert cache.info().bytes == 2 and len(cache) == 1


def test_zero_entries_disables_caching():
    cache = make(max_entries=0)
    cache.put("a", b"x")
    assert cache.get("a") is None


def test_clear_empties():
    cache = make()
    cache.put("a", b"x")
    cache.clear()
    assert len(cache) == 0 and cache.info().bytes == 0


def test_stays_bounded_under_concurrent_use():
    cache = make(max_entries=50, max_bytes=10_000)

    def work(n):
        for i in range(500):
            cache.put((n, i % 80), b"x" * (i % 7 + 1))
            cache.get((n, (i * 7) % 80))

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    info = cache.info()
    assert info.entries == 50
    assert info.hits + info.misses == 8 * 500
    assert info.bytes == sum(len(v) for v, _ in cache._items.values())
