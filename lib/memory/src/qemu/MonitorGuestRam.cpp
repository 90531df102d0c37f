// Guest RAM through the QEMU monitor's `xp` command: works wherever the
// monitor does (a remote libvirt, no ptrace rights), one round trip per 4 KiB
// page, and cannot write. Pages are cached until the guest may have run.
#include <cstring>
#include <unordered_map>

#include "qemu/GuestRamAccess.hpp"
#include "vmi/base/Error.hpp"

namespace vmi {
namespace {

constexpr std::uint64_t PAGE = 4096;

class MonitorGuestRam : public GuestRamAccess {
public:
    MonitorGuestRam(QemuMonitor& monitor, const std::vector<LiveRamRegion>& regions)
        : monitor_(monitor), regions_(regions)
    {
        std::uint8_t probe[8];
        read(0, 0, probe);
    }

    void read(std::size_t index, std::uint64_t offset, std::span<std::uint8_t> out) override
    {
        std::uint64_t address = regions_[index].region.start + offset;
        std::size_t done = 0;
        while (done < out.size()) {
            std::uint64_t here = address + done;
            const std::vector<std::uint8_t>& page = page_at(here & ~(PAGE - 1));
            std::size_t in_page = here & (PAGE - 1);
            std::size_t n = std::min<std::size_t>(out.size() - done, PAGE - in_page);
            std::memcpy(out.data() + done, page.data() + in_page, n);
            done += n;
        }
    }
    void write(std::size_t index, std::uint64_t offset, std::span<const std::uint8_t>) override
    {
        fail("cannot write guest RAM at physical {:#x} through the QEMU monitor (it has no command for that); "
             "map QEMU's memfd or use process_vm_writev (run as root)",
             regions_[index].region.start + offset);
    }
    bool can_write() const override { return false; }
    void invalidate() override { pages_.clear(); }
    std::string describe() const override
    {
        return fmt::format("the QEMU monitor ({}), page by page", monitor_.describe());
    }

private:
    const std::vector<std::uint8_t>& page_at(std::uint64_t address)
    {
        auto it = pages_.find(address);
        if (it != pages_.end()) return it->second;
        if (pages_.size() > 65536) pages_.clear(); // 256 MiB of cache is plenty
        std::string text = monitor_.human(fmt::format("xp /{}xg {:#x}", PAGE / 8, address));
        return pages_.emplace(address, parse_qemu_xp(text, PAGE / 8)).first->second;
    }

    QemuMonitor& monitor_;
    std::vector<LiveRamRegion> regions_;
    std::unordered_map<std::uint64_t, std::vector<std::uint8_t>> pages_;
};

} // namespace

std::unique_ptr<GuestRamAccess> monitor_guest_ram(QemuMonitor& monitor, const std::vector<LiveRamRegion>& regions)
{
    return std::make_unique<MonitorGuestRam>(monitor, regions);
}

} // namespace vmi
