#include "vmi/base/MappedFile.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vmi/base/Error.hpp"
#include "vmi/base/PositionalRead.hpp"

namespace vmi {

MappedFile::MappedFile(const std::string& path, bool writable, std::string_view kind) : path_(path), writable_(writable)
{
    int fd = ::open(path.c_str(), (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC);
    if (fd < 0) fail("cannot open {} '{}': {}", kind, path, std::strerror(errno));
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
        int err = errno;
        ::close(fd);
        fail("cannot stat {} '{}': {}", kind, path, std::strerror(err));
    }
    if (!S_ISREG(st.st_mode)) {
        ::close(fd);
        fail("{} '{}' is not a regular file", kind, path);
    }
    size_ = static_cast<std::size_t>(st.st_size);
    if (size_ == 0) {
        ::close(fd);
        fail("{} '{}' is empty", kind, path);
    }
    int prot = PROT_READ | (writable ? PROT_WRITE : 0);
    void* map = ::mmap(nullptr, size_, prot, MAP_SHARED, fd, 0);
    int err = errno;
    if (map == MAP_FAILED) {
        ::close(fd);
        fail("cannot map {} '{}': {}", kind, path, std::strerror(err));
    }
    data_ = static_cast<std::uint8_t*>(map);
    fd_ = fd; // kept for read_at()
}

MappedFile::~MappedFile()
{
    if (data_) ::munmap(data_, size_);
    if (fd_ >= 0) ::close(fd_);
}

std::vector<FileExtent> MappedFile::data_extents(std::uint64_t offset, std::uint64_t size) const
{
    return file_data_extents(fd_, offset, size);
}

void MappedFile::read_at(std::uint64_t offset, std::span<std::uint8_t> out) const
{
    if (offset > size_ || out.size() > size_ - offset)
        fail("read of {} bytes at offset {:#x} runs past the end of '{}'", out.size(), offset, path_);
    pread_exactly(fd_, offset, out, fmt::format("'{}'", path_));
}

std::uint8_t* MappedFile::mutable_data()
{
    if (!writable_) fail("'{}' is open read-only", path_);
    return data_;
}

} // namespace vmi
