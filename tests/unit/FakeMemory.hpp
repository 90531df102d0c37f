#pragma once
// Guest-physical memory for unit tests: a few RAM ranges (holes between them
// are real holes), zero-filled, with helpers to lay out page tables and data.
// Counts read() calls so tests can see whether a page walk happened.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "vmi/base/Error.hpp"
#include "vmi/memory/MemorySource.hpp"

namespace vmi_test {

class FakeMemory : public vmi::MemorySource {
public:
    explicit FakeMemory(std::vector<vmi::PhysicalRange> ranges) : ranges_(std::move(ranges))
    {
        std::sort(ranges_.begin(), ranges_.end(),
                  [](const vmi::PhysicalRange& a, const vmi::PhysicalRange& b) { return a.start < b.start; });
        for (const vmi::PhysicalRange& range : ranges_) storage_.emplace_back(range.size, std::uint8_t{0});
    }

    void read(std::uint64_t address, std::span<std::uint8_t> out) override
    {
        ++reads;
        get(address, out.data(), out.size());
    }

    void write(std::uint64_t address, std::span<const std::uint8_t> data) override
    {
        ++writes;
        // Like a real backend: a write that does not fit changes nothing.
        for (std::size_t done = 0; done < data.size();) done += run(address + done, data.size() - done).second;
        put(address, data.data(), data.size());
    }

    const std::vector<vmi::PhysicalRange>& ranges() const override { return ranges_; }
    std::optional<vmi::CpuRegisters> registers() const override { return registers_; }
    bool writable() const override { return true; }
    std::string describe() const override { return "fake memory"; }

    // Test helpers: direct access that does not count as a guest read/write.
    void put32(std::uint64_t address, std::uint32_t value) { put(address, &value, sizeof value); }
    void put64(std::uint64_t address, std::uint64_t value) { put(address, &value, sizeof value); }
    void put_bytes(std::uint64_t address, std::string_view bytes) { put(address, bytes.data(), bytes.size()); }
    std::uint32_t get32(std::uint64_t address)
    {
        std::uint32_t value = 0;
        get(address, &value, sizeof value);
        return value;
    }
    std::uint64_t get64(std::uint64_t address)
    {
        std::uint64_t value = 0;
        get(address, &value, sizeof value);
        return value;
    }
    std::string get_bytes(std::uint64_t address, std::size_t size)
    {
        std::string out(size, '\0');
        get(address, out.data(), size);
        return out;
    }
    void set_registers(std::optional<vmi::CpuRegisters> registers) { registers_ = std::move(registers); }

    std::size_t reads = 0;
    std::size_t writes = 0;

private:
    // The bytes at `address` and how many of the next `size` lie in the same
    // range (at least one); fails for an address outside RAM.
    std::pair<std::uint8_t*, std::size_t> run(std::uint64_t address, std::size_t size)
    {
        for (std::size_t i = 0; i < ranges_.size(); ++i)
            if (ranges_[i].contains(address)) {
                std::uint64_t offset = address - ranges_[i].start;
                return {&storage_[i][offset],
                        static_cast<std::size_t>(std::min<std::uint64_t>(size, ranges_[i].size - offset))};
            }
        vmi::fail("physical address {:#x} is not in guest RAM", address);
    }
    void put(std::uint64_t address, const void* data, std::size_t size)
    {
        auto* bytes = static_cast<const std::uint8_t*>(data);
        for (std::size_t done = 0; done < size;) {
            auto [at, n] = run(address + done, size - done);
            std::memcpy(at, bytes + done, n);
            done += n;
        }
    }
    void get(std::uint64_t address, void* data, std::size_t size)
    {
        auto* bytes = static_cast<std::uint8_t*>(data);
        for (std::size_t done = 0; done < size;) {
            auto [at, n] = run(address + done, size - done);
            std::memcpy(bytes + done, at, n);
            done += n;
        }
    }

    std::vector<vmi::PhysicalRange> ranges_;
    std::vector<std::vector<std::uint8_t>> storage_;
    std::optional<vmi::CpuRegisters> registers_;
};

// x86 page-table entry bits used by the tests.
constexpr std::uint64_t P = 1ULL << 0;
constexpr std::uint64_t RW = 1ULL << 1;
constexpr std::uint64_t US = 1ULL << 2;
constexpr std::uint64_t PWT = 1ULL << 3;
constexpr std::uint64_t PCD = 1ULL << 4;
constexpr std::uint64_t ACCESSED = 1ULL << 5;
constexpr std::uint64_t DIRTY = 1ULL << 6;
constexpr std::uint64_t PS = 1ULL << 7;
constexpr std::uint64_t GLOBAL = 1ULL << 8;
constexpr std::uint64_t PAT_LARGE = 1ULL << 12; // PAT bit of a large-page entry
constexpr std::uint64_t NX = 1ULL << 63;
// Every flag bit of a 4 KiB entry that is not part of the frame number:
// bits 0..11 and 52..63 (software-available, protection keys, NX).
constexpr std::uint64_t ALL_FLAGS_64 = 0xfff0000000000fffULL;

} // namespace vmi_test
