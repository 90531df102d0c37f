#pragma once
// Guest-physical memory of a running QEMU (the live backend): RAM layout from
// `info mtree -f`, registers from `info registers`, bytes by the fastest path
// that works (see GuestRamAccess), pause and resume through the monitor.
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "pause/LivePause.hpp"
#include "qemu/QemuMonitor.hpp"
#include "vmi/memory/MemorySource.hpp"
#include "vmi/memory/QemuGuest.hpp"

namespace vmi {

class GuestRamAccess;
struct LiveRamRegion;

class QemuMemory : public MemorySource {
public:
    QemuMemory(std::unique_ptr<QemuMonitor> monitor, RamAccessPath path, bool writable);
    // A layout found without the monitor (a QEMU's command line and maps),
    // host addresses filled in; `inferred` says how it was found, for the
    // check against the guest's own memory map (MemorySource::inferred_layout).
    QemuMemory(std::unique_ptr<QemuMonitor> monitor, std::vector<LiveRamRegion> layout, std::string inferred,
               RamAccessPath path, bool writable);
    ~QemuMemory() override;

    void read(std::uint64_t address, std::span<std::uint8_t> out) override;
    void write(std::uint64_t address, std::span<const std::uint8_t> data) override;
    const std::vector<PhysicalRange>& ranges() const override { return ranges_; }
    std::vector<PhysicalRange> data_ranges() const override;
    std::optional<CpuRegisters> registers() const override;
    bool pause() override;
    void resume() override;
    void prepare_pause() override { monitor_->hold(); }
    bool live() const override { return true; }
    std::string guest_key() const override;
    std::string resume_command() const override;
    void resume_from_signal_handler() noexcept override;
    void resume_signal_safe() noexcept override;
    bool resume_if_paused() override;
    void set_pause_witness(PauseWitness* witness) override { pause_.set_witness(witness); }
    void expire_pause(const std::string& why) override;
    bool writable() const override;
    std::string describe() const override;
    std::string inferred_layout() const override { return inferred_; }

    QemuMonitor& monitor() { return *monitor_; }

private:
    // Opens the access paths for regions_ (`path`, or under auto the fastest that work).
    void open_paths(RamAccessPath path);
    // The region holding `address` and the offset into it; throws for a hole.
    std::pair<std::size_t, std::uint64_t> locate(std::uint64_t address, std::size_t size, const char* doing) const;
    std::unique_ptr<QemuMonitor> monitor_;
    std::vector<LiveRamRegion> regions_;
    std::vector<PhysicalRange> ranges_;
    // The paths in use, fastest first, and which one serves each region.
    std::vector<std::unique_ptr<GuestRamAccess>> paths_;
    std::vector<GuestRamAccess*> access_;
    std::string path_notes_; // why faster paths were not used
    bool writable_ = false;
    std::string inferred_;
    mutable std::optional<CpuRegisters> registers_;
    LivePause pause_;
};

} // namespace vmi
