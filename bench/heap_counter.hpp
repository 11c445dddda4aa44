// Heap accounting for benchmark programs: replaces the global operator new and delete, counting the
// blocks handed out and the usable bytes still live. Include it in exactly one translation unit of a
// program (its definitions are that program's operator new).
#pragma once

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <malloc.h>
#include <new>

namespace bench::heap {

/// Off: operator new costs no more than malloc (throughput runs). On by default.
inline std::atomic<bool> counting{true};
inline std::atomic<std::uint64_t> allocations{0}; ///< blocks handed out while counting
inline std::atomic<std::int64_t> live_bytes{0};   ///< usable bytes allocated minus freed while counting

inline void* allocate(std::size_t size) noexcept {
    void* p = std::malloc(size == 0 ? 1 : size);
    if (p && counting.load(std::memory_order_relaxed)) {
        allocations.fetch_add(1, std::memory_order_relaxed);
        live_bytes.fetch_add(static_cast<std::int64_t>(malloc_usable_size(p)), std::memory_order_relaxed);
    }
    return p;
}

// Not inlined into operator delete: g++ 12 would then see free() on memory from operator new and
// warn (-Wmismatched-new-delete), although the memory came from malloc in allocate().
[[gnu::noinline]] inline void release(void* p) noexcept {
    if (p && counting.load(std::memory_order_relaxed))
        live_bytes.fetch_sub(static_cast<std::int64_t>(malloc_usable_size(p)), std::memory_order_relaxed);
    std::free(p);
}

} // namespace bench::heap

void* operator new(std::size_t size) {
    if (void* p = bench::heap::allocate(size)) return p;
    throw std::bad_alloc();
}
void* operator new[](std::size_t size) {
    if (void* p = bench::heap::allocate(size)) return p;
    throw std::bad_alloc();
}
void* operator new(std::size_t size, const std::nothrow_t&) noexcept {
    return bench::heap::allocate(size);
}
void* operator new[](std::size_t size, const std::nothrow_t&) noexcept {
    return bench::heap::allocate(size);
}
void operator delete(void* p) noexcept {
    bench::heap::release(p);
}
void operator delete[](void* p) noexcept {
    bench::heap::release(p);
}
void operator delete(void* p, std::size_t) noexcept {
    bench::heap::release(p);
}
void operator delete[](void* p, std::size_t) noexcept {
    bench::heap::release(p);
}
