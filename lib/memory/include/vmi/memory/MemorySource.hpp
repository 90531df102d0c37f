#pragma once
// A guest's memory source: the backend interface (the paper's driver
// interface, Figure 5). Everything the layers above need from a guest,
// whether a dump file or a running hypervisor guest: guest-physical reads and
// writes, the RAM layout, vCPU registers, pause and resume. One
// implementation per source: dump files under src/dump/ (DumpFile.hpp),
// running QEMU guests under src/qemu/ (QemuGuest.hpp), Xen domains under
// src/xen/ (XenGuest.hpp).
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "vmi/memory/CpuRegisters.hpp"

namespace vmi {

class PauseWitness;

// A run of guest-physical addresses backed by RAM: [start, start + size).
struct PhysicalRange {
    std::uint64_t start = 0;
    std::uint64_t size = 0;
    std::uint64_t end() const { return start + size; }
    bool contains(std::uint64_t address) const { return address >= start && address - start < size; }
};

class MemorySource {
public:
    virtual ~MemorySource() = default;

    // Reads/writes exactly out.size() bytes at guest-physical `address`, or
    // throws vmi::Error naming the first address that is not RAM.
    virtual void read(std::uint64_t address, std::span<std::uint8_t> out) = 0;
    virtual void write(std::uint64_t address, std::span<const std::uint8_t> data) = 0;

    // Guest RAM, sorted by address, without overlaps. Holes are real.
    virtual const std::vector<PhysicalRange>& ranges() const = 0;
    // The parts of RAM that may hold bytes other than zero, sorted: RAM the
    // host never backed (a hole in a sparse dump, a memfd page the guest never
    // touched) reads as zeros, and a scan for content skips it. Asked anew
    // each time (a running guest touches more); by default, all of ranges().
    virtual std::vector<PhysicalRange> data_ranges() const { return ranges(); }

    // Registers of vCPU 0 where the source has them, CR3 holding a
    // guest-physical address.
    virtual std::optional<CpuRegisters> registers() const = 0;

    // Stop/restart the guest's vCPUs. pause() returns whether this call
    // stopped a running guest (false for sources that do not run, and for a
    // guest that was paused already, which must then be left paused). Use
    // them through ScopedPause, which adds the per-guest lock, the signal
    // handling and the time limit.
    virtual bool pause() { return false; }
    virtual void resume() {}
    // Called before the pause guardian is forked: a source that lets go of
    // its connection between uses (Proxmox's QMP socket) takes it now, so the
    // guardian and the signal handlers can resume the guest through it.
    virtual void prepare_pause() {}

    // Whether this is a running guest rather than a file: pausing stops it,
    // and a write changes a live system.
    virtual bool live() const { return false; }
    // A name for this guest unique on this host while it runs, for the
    // per-guest pause lock ("qemu-1234-5678": QEMU's pid and start time);
    // empty for sources that do not run.
    virtual std::string guest_key() const { return {}; }
    // What a person runs to resume the guest by hand, for error messages
    // ("virsh -c qemu:///system resume web01").
    virtual std::string resume_command() const { return {}; }
    // Resumes the guest from a signal handler (a crash), if this process has
    // paused it or sent the stop that pauses it, and not yet resumed it:
    // async-signal-safe, best effort, reports nothing.
    virtual void resume_from_signal_handler() noexcept {}
    // Resumes the guest whoever paused it, async-signal-safe and best effort,
    // reporting nothing: what the pause guardian runs (a process forked before
    // the pause, see ScopedPause) when this one died with the guest paused.
    virtual void resume_signal_safe() noexcept {}
    // Resumes the guest if it is paused, whoever paused it, and says whether
    // it was: for a guest that a vmitools process which died left paused.
    // Throws vmi::Error when the state cannot be read or the resume fails.
    virtual bool resume_if_paused() { return false; }
    // Tells `witness` (nullptr: no one) when a pause request of this source
    // goes out and when that pause is over (see PauseWitness.hpp).
    virtual void set_pause_witness(PauseWitness* /*witness*/) {}
    // Ends a pause early, called from another thread (the pause time limit)
    // while this one may be reading: resumes the guest now, and from then on
    // every read and write throws vmi::Error(why) until the next pause(), so a
    // walk cannot go on reading a running guest as if it were paused. Throws
    // vmi::Error when the guest cannot be resumed.
    virtual void expire_pause(const std::string& /*why*/) {}

    // The guest-physical address of the page that a page-table entry (or
    // CR3) names by `page`, a page-aligned address taken from the entry; or
    // nullopt when the page is not the guest's. Page tables hold
    // guest-physical addresses in every guest but a paravirtualised (PV) Xen
    // guest, whose entries hold machine frames (MFNs); its source maps those
    // back to guest-physical pages (Xen's m2p). PageWalker passes every
    // address it takes from an entry through this, so walks, their results
    // and a process's page-table root (mm->pgd, a guest-physical address)
    // are all guest-physical.
    virtual std::optional<std::uint64_t> table_page_to_physical(std::uint64_t page) const { return page; }

    virtual bool writable() const = 0;
    // Non-empty when the RAM layout is a guess (a QEMU with no monitor: from
    // its command line), saying how it was found: the OS layer checks it
    // against the guest's own memory map before trusting it.
    virtual std::string inferred_layout() const { return {}; }
    // "ELF core 'x.elf' (3 RAM ranges, 512 MiB)", for --verbose.
    virtual std::string describe() const = 0;

    // Convenience: is [address, address+size) entirely RAM?
    bool is_ram(std::uint64_t address, std::uint64_t size = 1) const;
};

// Whether [start, start + size) overlaps any of `sorted` (data_ranges()).
bool overlaps_any(const std::vector<PhysicalRange>& sorted, std::uint64_t start, std::uint64_t size);

} // namespace vmi
