// Guest RAM through process_vm_readv/process_vm_writev on the QEMU process,
// at the host address QEMU itself reports for each region (gpa2hva), not one
// guessed from the largest mapping. Needs ptrace access to QEMU (root, or
// QEMU's user with ptrace_scope permitting).
#include <cerrno>
#include <cstring>
#include <sys/uio.h>

#include "qemu/GuestRamAccess.hpp"
#include "vmi/base/Error.hpp"

namespace vmi {
namespace {

class ProcessGuestRam : public GuestRamAccess {
public:
    ProcessGuestRam(int pid, const std::vector<LiveRamRegion>& regions) : pid_(pid), regions_(regions)
    {
        for (const LiveRamRegion& live : regions_)
            if (!live.host_address) fail("no host address for guest RAM at {:#x}", live.region.start);
        std::uint8_t probe[8];
        read(0, 0, probe); // permission problems show now, not mid-walk
    }

    void read(std::size_t index, std::uint64_t offset, std::span<std::uint8_t> out) override
    {
        transfer(index, offset, out.data(), out.size(), false);
    }
    void write(std::size_t index, std::uint64_t offset, std::span<const std::uint8_t> data) override
    {
        transfer(index, offset, const_cast<std::uint8_t*>(data.data()), data.size(), true);
    }
    bool can_write() const override { return true; }
    std::string describe() const override { return fmt::format("process_vm_readv on QEMU pid {}", pid_); }

private:
    // `local` is read from when writing and written to when reading.
    void transfer(std::size_t index, std::uint64_t offset,
                  std::uint8_t* local, // NOLINT(readability-non-const-parameter): the read direction writes it
                  std::size_t size, bool writing)
    {
        std::size_t done = 0;
        while (done < size) {
            iovec mine{local + done, size - done};
            // An address in QEMU's address space, not ours: never dereferenced here.
            std::uint64_t remote = regions_[index].host_address + offset + done;
            iovec theirs{reinterpret_cast<void*>(remote), size - done}; // NOLINT(performance-no-int-to-ptr)
            ssize_t n = writing ? ::process_vm_writev(pid_, &mine, 1, &theirs, 1, 0)
                                : ::process_vm_readv(pid_, &mine, 1, &theirs, 1, 0);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) {
                int err = errno;
                fail("cannot {} guest RAM at {:#x} in QEMU pid {}: {}{}", writing ? "write" : "read",
                     regions_[index].region.start + offset + done, pid_, n == 0 ? "short transfer" : std::strerror(err),
                     err == EPERM ? " (run as root, or as QEMU's user)" : "");
            }
            done += static_cast<std::size_t>(n);
        }
    }

    int pid_;
    std::vector<LiveRamRegion> regions_;
};

} // namespace

std::unique_ptr<GuestRamAccess> process_guest_ram(int qemu_pid, const std::vector<LiveRamRegion>& regions)
{
    if (qemu_pid <= 0) fail("the QEMU process is not known");
    return std::make_unique<ProcessGuestRam>(qemu_pid, regions);
}

} // namespace vmi
