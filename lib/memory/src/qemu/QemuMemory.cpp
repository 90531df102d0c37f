#include "qemu/QemuMemory.hpp"

#include <algorithm>

#include "qemu/GuestRamAccess.hpp"
#include "qemu/LibvirtDomain.hpp"
#include "qemu/ProcessStat.hpp"
#include "qemu/QmpSocket.hpp"
#include "vmi/base/Diagnostics.hpp"
#include "vmi/base/Error.hpp"
#include "vmi/memory/QemuLayout.hpp"

namespace vmi {

RamAccessPath parse_ram_access_path(const std::string& text)
{
    if (text.empty() || text == "auto") return RamAccessPath::automatic;
    if (text == "memfd" || text == "mapped") return RamAccessPath::mapped;
    if (text == "process") return RamAccessPath::process;
    if (text == "monitor") return RamAccessPath::monitor;
    fail("unknown memory access path '{}' (expected auto, memfd, process or monitor)", text);
}

std::unique_ptr<MemorySource> open_qmp_guest(const std::string& socket, RamAccessPath path, bool writable)
{
    return std::make_unique<QemuMemory>(std::make_unique<QmpSocket>(socket), path, writable);
}

std::unique_ptr<MemorySource> open_libvirt_guest(const std::string& uri, const std::string& domain, RamAccessPath path,
                                                 bool writable)
{
    return std::make_unique<QemuMemory>(std::make_unique<LibvirtDomain>(uri, domain), path, writable);
}

QemuMemory::QemuMemory(std::unique_ptr<QemuMonitor> monitor, RamAccessPath path, bool writable)
    : monitor_(std::move(monitor)), writable_(writable)
{
    // 'info mtree -f' and gpa2hva arrived in QEMU 2.10 (2017).
    nlohmann::json version = monitor_->command("query-version");
    int major = version["qemu"].value("major", 0), minor = version["qemu"].value("minor", 0);
    if (major < 2 || (major == 2 && minor < 10))
        fail("{}: QEMU {}.{} is too old (vmitools needs 2.10 or later)", monitor_->describe(), major, minor);
    for (const QemuRamRegion& region : parse_qemu_mtree(monitor_->human("info mtree -f"))) {
        regions_.push_back({region, 0});
        ranges_.push_back({region.start, region.size});
    }
    // Host addresses, from QEMU itself (gpa2hva). Where QEMU cannot give one,
    // only the monitor path is left (under auto; a path asked for fails).
    if (path != RamAccessPath::monitor) {
        try {
            for (LiveRamRegion& live : regions_)
                live.host_address =
                    parse_qemu_gpa2hva(monitor_->human(fmt::format("gpa2hva {:#x}", live.region.start)));
        } catch (const Error& e) {
            if (path != RamAccessPath::automatic) throw;
            path_notes_ = e.what();
            path = RamAccessPath::monitor;
        }
    }
    open_paths(path);
}

QemuMemory::QemuMemory(std::unique_ptr<QemuMonitor> monitor, std::vector<LiveRamRegion> layout, std::string inferred,
                       RamAccessPath path, bool writable)
    : monitor_(std::move(monitor)), regions_(std::move(layout)), writable_(writable), inferred_(std::move(inferred))
{
    if (path == RamAccessPath::monitor && !monitor_->answers_commands())
        fail("{}: --access monitor needs a QEMU monitor, and this QEMU has none", monitor_->describe());
    for (const LiveRamRegion& live : regions_) ranges_.push_back({live.region.start, live.region.size});
    open_paths(path);
}

void QemuMemory::open_paths(RamAccessPath path)
{
    int pid = monitor_->qemu_pid();
    auto open_path = [&](RamAccessPath which) -> std::unique_ptr<GuestRamAccess> {
        try {
            if (which == RamAccessPath::mapped) return map_guest_ram(pid, regions_, writable_);
            if (which == RamAccessPath::process) return process_guest_ram(pid, regions_);
            return monitor_guest_ram(*monitor_, regions_);
        } catch (const Error& e) {
            if (path != RamAccessPath::automatic) throw;
            diag::note("not using {}: {}", which == RamAccessPath::mapped ? "a memfd/file mapping" : "process_vm_readv",
                       e.what());
            return nullptr;
        }
    };
    access_.assign(regions_.size(), nullptr);
    std::vector<RamAccessPath> order{path};
    if (path == RamAccessPath::automatic) order = {RamAccessPath::mapped, RamAccessPath::process};
    if (path == RamAccessPath::automatic && monitor_->answers_commands()) order.push_back(RamAccessPath::monitor);
    for (RamAccessPath which : order) {
        if (std::none_of(access_.begin(), access_.end(), [](GuestRamAccess* a) { return a == nullptr; })) break;
        std::unique_ptr<GuestRamAccess> opened = open_path(which);
        if (!opened) continue;
        for (std::size_t i = 0; i < regions_.size(); ++i)
            if (!access_[i] && opened->covers(i)) access_[i] = opened.get();
        diag::note("guest memory through {}", opened->describe());
        paths_.push_back(std::move(opened));
    }
    // A path chosen by hand may not reach every region (memfd: not the
    // anonymous video RAM); those are left out of the guest's RAM.
    ranges_.clear();
    for (std::size_t i = 0; i < regions_.size(); ++i) {
        if (access_[i]) {
            ranges_.push_back({regions_[i].region.start, regions_[i].region.size});
            continue;
        }
        diag::note("guest memory at {:#x}-{:#x} ({}) is not reachable that way: left out", regions_[i].region.start,
                   regions_[i].region.start + regions_[i].region.size - 1, regions_[i].region.name);
    }
    for (GuestRamAccess* access : access_)
        if (access && writable_ && !access->can_write())
            fail("{}: guest RAM is reachable only through the QEMU monitor, which cannot write", monitor_->describe());
    // The layout is known: a monitor that others need too is let go until the
    // next command (the registers, the pause).
    monitor_->release();
}

QemuMemory::~QemuMemory() = default;

std::pair<std::size_t, std::uint64_t> QemuMemory::locate(std::uint64_t address, std::size_t size,
                                                         const char* doing) const
{
    for (std::size_t i = 0; i < regions_.size(); ++i) {
        PhysicalRange range{regions_[i].region.start, regions_[i].region.size};
        if (access_[i] && range.contains(address)) {
            if (size > range.end() - address)
                fail("cannot {} {} bytes at physical {:#x}: physical {:#x} is not RAM", doing, size, address,
                     range.end());
            return {i, address - range.start};
        }
    }
    fail("cannot {} physical address {:#x}: not guest RAM", doing, address);
}

std::vector<PhysicalRange> QemuMemory::data_ranges() const
{
    std::vector<PhysicalRange> out;
    for (std::size_t i = 0; i < regions_.size(); ++i) {
        if (!access_[i]) continue;
        for (const PhysicalRange& extent : access_[i]->data_extents(i, regions_[i].region.size))
            out.push_back({regions_[i].region.start + extent.start, extent.size});
    }
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.start < b.start; });
    return out;
}

void QemuMemory::read(std::uint64_t address, std::span<std::uint8_t> out)
{
    pause_.throw_if_expired();
    // A read may span adjacent regions (e.g. ROM pieces of low RAM).
    std::size_t done = 0;
    while (done < out.size()) {
        std::uint64_t here = address + done;
        auto [index, offset] = locate(here, 1, "read");
        std::size_t n = std::min<std::uint64_t>(out.size() - done, regions_[index].region.size - offset);
        access_[index]->read(index, offset, out.subspan(done, n));
        done += n;
    }
    // Bytes read before the pause ran out were read from a paused guest (the
    // flag is set before the guest is resumed); after, they may not be.
    pause_.throw_if_expired();
}

void QemuMemory::write(std::uint64_t address, std::span<const std::uint8_t> data)
{
    pause_.throw_if_expired();
    if (!writable_) fail("{} is open read-only", monitor_->describe());
    // Check the whole range first: never half a write.
    std::size_t checked = 0;
    while (checked < data.size()) {
        auto [index, offset] = locate(address + checked, 1, "write");
        checked += std::min<std::uint64_t>(data.size() - checked, regions_[index].region.size - offset);
    }
    std::size_t done = 0;
    while (done < data.size()) {
        auto [index, offset] = locate(address + done, 1, "write");
        std::size_t n = std::min<std::uint64_t>(data.size() - done, regions_[index].region.size - offset);
        access_[index]->write(index, offset, data.subspan(done, n));
        done += n;
    }
}

std::optional<CpuRegisters> QemuMemory::registers() const
{
    pause_.throw_if_expired();
    if (!monitor_->answers_commands()) return std::nullopt;
    if (!registers_) {
        registers_ = parse_qemu_registers(monitor_->human("info registers"));
        if (!pause_.in_force()) monitor_->release();
    }
    return registers_;
}

bool QemuMemory::pause()
{
    if (!monitor_->running()) {
        diag::note("the guest is paused already; it stays paused");
        return false;
    }
    pause_.request_sent();
    try {
        monitor_->stop();
    } catch (const Error& e) {
        // The stop may have reached QEMU even so (an answer that came too
        // late): undo it, or say how.
        try {
            monitor_->cont();
            pause_.request_undone();
        } catch (const Error&) {
            fail("could not pause the guest: {}; it may be paused now: resume it with {}", e.what(), resume_command());
        }
        fail("could not pause the guest: {}", e.what());
    }
    registers_.reset();
    for (auto& access : paths_) access->invalidate();
    pause_.started();
    return true;
}

void QemuMemory::resume()
{
    if (pause_.needs_resume()) monitor_->cont();
    registers_.reset();
    for (auto& access : paths_) access->invalidate();
    pause_.resumed();
    monitor_->release();
}

void QemuMemory::expire_pause(const std::string& why)
{
    pause_.expire(why);
    monitor_->cont();
    pause_.resumed_early();
}

std::string QemuMemory::guest_key() const
{
    // The QEMU process, however it is reached (QMP or libvirt), is the guest;
    // its start time tells it from a later process with the same pid.
    if (int pid = monitor_->qemu_pid(); pid > 0)
        if (std::optional<std::string> start = proc_stat_field(fmt::format("/proc/{}/stat", pid), 22))
            return fmt::format("qemu-{}-{}", pid, *start);
    return monitor_->guest_key();
}

std::string QemuMemory::resume_command() const { return monitor_->resume_command(); }

void QemuMemory::resume_from_signal_handler() noexcept
{
    if (!pause_.take_unresumed()) return;
    monitor_->cont_from_signal_handler();
    pause_.resumed_from_signal_handler();
}

void QemuMemory::resume_signal_safe() noexcept { monitor_->cont_from_signal_handler(); }

bool QemuMemory::resume_if_paused()
{
    if (monitor_->running()) {
        monitor_->release();
        return false;
    }
    monitor_->cont();
    monitor_->release();
    registers_.reset();
    for (auto& access : paths_) access->invalidate();
    return true;
}

bool QemuMemory::writable() const { return writable_; }

std::string QemuMemory::describe() const
{
    std::uint64_t total = 0;
    for (const PhysicalRange& range : ranges_) total += range.size;
    return fmt::format("live guest via {} ({} RAM ranges, {} MiB)", monitor_->describe(), ranges_.size(), total >> 20);
}

} // namespace vmi
