#pragma once
// A virtual address space (the kernel's or one process's): a page-table root (dtb)
// plus a translation cache, with reads and writes that cross page boundaries.
#include <cstdint>
#include <span>
#include <string>

#include "vmi/paging/PageWalker.hpp"
#include "vmi/paging/TranslationCache.hpp"

namespace vmi {

class AddressSpace {
public:
    AddressSpace(MemorySource& memory, PagingMode mode, std::uint64_t dtb);

    // Physical address of virtual address `va`; throws vmi::Error when unmapped.
    std::uint64_t translate(std::uint64_t va);
    // Same without throwing (no cache fill on failure).
    Translation try_translate(std::uint64_t va);

    void read(std::uint64_t va, std::span<std::uint8_t> out);
    void write(std::uint64_t va, std::span<const std::uint8_t> data);

    std::uint64_t read_u64(std::uint64_t va);
    std::uint32_t read_u32(std::uint64_t va);
    // A pointer of the guest's width (4 bytes in 32-bit modes, 8 otherwise).
    std::uint64_t read_pointer(std::uint64_t va);

    // Reads a NUL-terminated string of at most `max_length` bytes. Stops at
    // the NUL; `terminated` says whether one was found within the cap.
    std::string read_string(std::uint64_t va, std::size_t max_length, bool* terminated = nullptr);

    PagingMode mode() const { return walker_.mode(); }
    std::uint64_t dtb() const { return walker_.dtb(); }
    MemorySource& memory() { return memory_; }
    void clear_cache() { cache_.clear(); }

private:
    MemorySource& memory_;
    PageWalker walker_;
    TranslationCache cache_;
};

} // namespace vmi
