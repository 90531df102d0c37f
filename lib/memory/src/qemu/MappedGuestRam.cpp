// Guest RAM mapped straight into our process: QEMU backs it with a memfd or a
// file mapped shared (libvirt <memoryBacking><source type='memfd'/><access
// mode='shared'/>, or -object memory-backend-memfd,share=on). QEMU's
// /proc/PID/maps says which file holds each region's host address, and at
// what offset; /proc/PID/fd gives us that file by its inode.
#include <algorithm>
#include <cerrno>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "qemu/GuestRamAccess.hpp"
#include "qemu/ProcessMaps.hpp"
#include "vmi/base/Error.hpp"
#include "vmi/base/FileExtents.hpp"
#include "vmi/base/PositionalRead.hpp"

namespace vmi {
namespace {

HostMapping find_mapping(int pid, std::uint64_t address)
{
    for (HostMapping& m : read_process_maps(pid))
        if (address >= m.low && address < m.high) return std::move(m);
    fail("QEMU pid {} maps nothing at host address {:#x}", pid, address);
}

// An fd of `pid` whose file is the mapping's (same device and inode).
std::string backing_fd(int pid, const HostMapping& mapping)
{
    std::string dir_path = fmt::format("/proc/{}/fd", pid);
    DIR* dir = ::opendir(dir_path.c_str());
    if (!dir) fail("cannot list {}: {} (run as root, or as QEMU's user)", dir_path, std::strerror(errno));
    std::string found;
    while (dirent* entry = ::readdir(dir)) {
        if (entry->d_name[0] == '.') continue;
        std::string path = dir_path + "/" + entry->d_name;
        struct stat st {};
        if (::stat(path.c_str(), &st) != 0) continue;
        if (st.st_ino == mapping.inode && major(st.st_dev) == mapping.dev_major &&
            minor(st.st_dev) == mapping.dev_minor) {
            found = path;
            break;
        }
    }
    ::closedir(dir);
    if (found.empty()) fail("QEMU pid {} holds no open file for '{}'", pid, mapping.path);
    return found;
}

class MappedGuestRam : public GuestRamAccess {
    struct Map {
        std::uint8_t* bytes = nullptr;
        void* base = nullptr;
        std::size_t length = 0;
        std::string path;
        int fd = -1;                   // kept for large reads by pread
        std::uint64_t file_offset = 0; // of `bytes` in the file
    };

public:
    MappedGuestRam(int pid, const std::vector<LiveRamRegion>& regions, bool writable) : pid_(pid), writable_(writable)
    {
        // Map every region QEMU backs with a shared file; others (video RAM,
        // ROMs in anonymous memory) are left to another path.
        std::string first_problem;
        maps_.resize(regions.size());
        for (std::size_t i = 0; i < regions.size(); ++i) {
            try {
                maps_[i] = map(regions[i]);
            } catch (const Error& e) {
                if (first_problem.empty()) first_problem = e.what();
            }
        }
        if (std::none_of(maps_.begin(), maps_.end(), [](const Map& m) { return m.bytes != nullptr; })) {
            unmap();
            fail("{}", first_problem);
        }
    }
    ~MappedGuestRam() override { unmap(); }
    MappedGuestRam(const MappedGuestRam&) = delete;
    MappedGuestRam& operator=(const MappedGuestRam&) = delete;

    void read(std::size_t index, std::uint64_t offset, std::span<std::uint8_t> out) override
    {
        // Large reads (scans) by pread: see PositionalRead.hpp.
        const Map& m = maps_[index];
        if (out.size() < STREAMED_READ) std::memcpy(out.data(), m.bytes + offset, out.size());
        else pread_exactly(m.fd, m.file_offset + offset, out, m.path);
    }
    void write(std::size_t index, std::uint64_t offset, std::span<const std::uint8_t> data) override
    {
        if (!writable_) fail("guest RAM is mapped read-only");
        std::memcpy(maps_[index].bytes + offset, data.data(), data.size());
    }
    bool can_write() const override { return writable_; }
    std::vector<PhysicalRange> data_extents(std::size_t index, std::uint64_t size) const override
    {
        const Map& m = maps_[index];
        std::vector<PhysicalRange> out;
        for (const FileExtent& extent : file_data_extents(m.fd, m.file_offset, size))
            out.push_back({extent.offset - m.file_offset, extent.size});
        return out;
    }
    bool covers(std::size_t index) const override { return maps_[index].bytes != nullptr; }
    std::string describe() const override
    {
        std::uint64_t bytes = 0;
        std::string path;
        for (const Map& m : maps_) {
            if (!m.bytes) continue;
            bytes += m.length;
            if (path.empty()) path = m.path;
        }
        return fmt::format("{} MiB mapped from QEMU pid {}'s {}", bytes >> 20, pid_, path);
    }

private:
    Map map(const LiveRamRegion& live)
    {
        if (!live.host_address) fail("no host address for guest RAM at {:#x}", live.region.start);
        HostMapping mapping = find_mapping(pid_, live.host_address);
        if (!mapping.shared || mapping.inode == 0)
            fail("QEMU maps guest RAM at {:#x} privately ({}): no shared memfd or file to map "
                 "(libvirt: <memoryBacking><source type='memfd'/><access mode='shared'/>)",
                 live.region.start, mapping.path.empty() ? "anonymous memory" : mapping.path);
        if (live.host_address + live.region.size > mapping.high)
            fail("guest RAM at {:#x} spans several host mappings", live.region.start);
        std::string fd_path = backing_fd(pid_, mapping);
        int fd = ::open(fd_path.c_str(), (writable_ ? O_RDWR : O_RDONLY) | O_CLOEXEC);
        if (fd < 0) fail("cannot open {} ({}): {}", fd_path, mapping.path, std::strerror(errno));
        std::uint64_t file_offset = mapping.file_offset + (live.host_address - mapping.low);
        long page = ::sysconf(_SC_PAGESIZE);
        std::uint64_t aligned = file_offset & ~static_cast<std::uint64_t>(page - 1);
        std::size_t length = live.region.size + (file_offset - aligned);
        void* base = ::mmap(nullptr, length, PROT_READ | (writable_ ? PROT_WRITE : 0), MAP_SHARED, fd,
                            static_cast<off_t>(aligned));
        int err = errno;
        if (base == MAP_FAILED) {
            ::close(fd);
            fail("cannot map {} ({}): {}", fd_path, mapping.path, std::strerror(err));
        }
        return {
            static_cast<std::uint8_t*>(base) + (file_offset - aligned), base, length, mapping.path, fd, file_offset};
    }

    void unmap()
    {
        for (Map& m : maps_) {
            if (m.base) ::munmap(m.base, m.length);
            if (m.fd >= 0) ::close(m.fd);
        }
        maps_.clear();
    }

    int pid_;
    bool writable_;
    std::vector<Map> maps_;
};

} // namespace

std::unique_ptr<GuestRamAccess> map_guest_ram(int qemu_pid, const std::vector<LiveRamRegion>& regions, bool writable)
{
    if (qemu_pid <= 0) fail("the QEMU process is not known");
    return std::make_unique<MappedGuestRam>(qemu_pid, regions, writable);
}

} // namespace vmi
