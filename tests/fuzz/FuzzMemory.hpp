#pragma once
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "vmi/base/Error.hpp"
#include "vmi/memory/MemorySource.hpp"

namespace vmi_fuzz {

// Guest RAM that is fuzz input: ranges of bytes at guest-physical addresses,
// readable and writable like a dump opened with --writable-image.
class FuzzMemory : public vmi::MemorySource {
public:
    void add(std::uint64_t start, std::span<const std::uint8_t> bytes)
    {
        ranges_.push_back({start, bytes.size()});
        storage_.emplace_back(bytes.begin(), bytes.end());
    }
    void set_registers(std::optional<vmi::CpuRegisters> registers) { registers_ = registers; }

    void read(std::uint64_t address, std::span<std::uint8_t> out) override
    {
        std::size_t done = 0;
        while (done < out.size()) {
            auto [bytes, available] = at(address + done);
            std::size_t n = std::min<std::uint64_t>(available, out.size() - done);
            std::memcpy(out.data() + done, bytes, n);
            done += n;
        }
    }
    void write(std::uint64_t address, std::span<const std::uint8_t> data) override
    {
        if (!is_ram(address, data.size())) vmi::fail("physical range at {:#x} is not all RAM", address);
        std::size_t done = 0;
        while (done < data.size()) {
            auto [bytes, available] = at(address + done);
            std::size_t n = std::min<std::uint64_t>(available, data.size() - done);
            std::memcpy(bytes, data.data() + done, n);
            done += n;
        }
    }
    const std::vector<vmi::PhysicalRange>& ranges() const override { return ranges_; }
    std::optional<vmi::CpuRegisters> registers() const override { return registers_; }
    bool writable() const override { return true; }
    std::string describe() const override { return "fuzz input"; }

private:
    // The byte at `address` and how many bytes of its range follow it.
    std::pair<std::uint8_t*, std::uint64_t> at(std::uint64_t address)
    {
        for (std::size_t i = 0; i < ranges_.size(); ++i)
            if (ranges_[i].contains(address)) {
                std::uint64_t offset = address - ranges_[i].start;
                return {storage_[i].data() + offset, ranges_[i].size - offset};
            }
        vmi::fail("physical address {:#x} is not in guest RAM", address);
    }

    std::vector<vmi::PhysicalRange> ranges_;
    std::vector<std::vector<std::uint8_t>> storage_;
    std::optional<vmi::CpuRegisters> registers_;
};

} // namespace vmi_fuzz
