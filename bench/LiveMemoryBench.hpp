#pragma once
// What bench-live (QEMU guests) and bench-xen (Xen domains) both measure on
// a live guest's memory source: large physical reads, random 4 KiB page
// reads, and the paused window of a vmi-ps walk.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <random>
#include <vector>

#include "vmi/linux/LinuxKernel.hpp"
#include "vmi/memory/MemorySource.hpp"
#include "vmi/memory/ScopedPause.hpp"

namespace vmi_bench {

inline double seconds(const std::function<void()>& body)
{
    auto start = std::chrono::steady_clock::now();
    body();
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// The largest RAM range (low memory is split by ROMs).
inline vmi::PhysicalRange largest_ram_range(vmi::MemorySource& memory)
{
    return *std::max_element(memory.ranges().begin(), memory.ranges().end(),
                             [](const auto& a, const auto& b) { return a.size < b.size; });
}

// `count` random 4 KiB pages of `ram`, the same ones every run.
inline std::vector<std::uint64_t> random_pages(const vmi::PhysicalRange& ram, int count)
{
    std::vector<std::uint64_t> pages;
    std::mt19937_64 random(42);
    for (int i = 0; i < count; ++i) pages.push_back(ram.start + (random() % (ram.size / 4096)) * 4096);
    return pages;
}

// Seconds to read every page of `pages`; a byte of each goes to `sink`, so
// that no read can be left out.
inline double read_pages(vmi::MemorySource& memory, const std::vector<std::uint64_t>& pages,
                         volatile std::uint64_t& sink)
{
    std::vector<std::uint8_t> page(4096);
    return seconds([&] {
        for (std::uint64_t address : pages) {
            memory.read(address, page);
            sink = sink + page[0];
        }
    });
}

// A bench measures how long the guest is paused, so no limit cuts that short
// (the tools' default, 10 s, is a nested dom0's bulk read under load).
inline constexpr vmi::PauseLimits kUnlimitedPause{.max_pause = std::chrono::milliseconds{0}};

struct PausedWalk {
    std::size_t processes = 0;
    double walk = 0;   // seconds of the task-list walk
    double window = 0; // seconds the guest was paused for it
};

// vmi-ps's work on an attached kernel: pause, walk the task list, resume.
inline PausedWalk paused_walk(vmi::MemorySource& memory, vmi::LinuxKernel& kernel)
{
    PausedWalk out;
    out.window = seconds([&] {
        vmi::ScopedPause pause(memory, true, kUnlimitedPause);
        out.walk = seconds([&] { out.processes = kernel.tasks({}).tasks.size(); });
    });
    return out;
}

} // namespace vmi_bench
