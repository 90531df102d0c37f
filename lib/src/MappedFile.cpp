#include "vmi/MappedFile.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vmi/Error.hpp"

namespace vmi {

MappedFile::MappedFile(const std::string& path, bool writable) : path_(path), writable_(writable)
{
    int fd = ::open(path.c_str(), (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC);
    if (fd < 0) fail("cannot open image '{}': {}", path, std::strerror(errno));
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
        int err = errno;
        ::close(fd);
        fail("cannot stat image '{}': {}", path, std::strerror(err));
    }
    if (!S_ISREG(st.st_mode)) {
        ::close(fd);
        fail("image '{}' is not a regular file", path);
    }
    size_ = static_cast<std::size_t>(st.st_size);
    if (size_ == 0) {
        ::close(fd);
        fail("image '{}' is empty", path);
    }
    int prot = PROT_READ | (writable ? PROT_WRITE : 0);
    void* map = ::mmap(nullptr, size_, prot, MAP_SHARED, fd, 0);
    int err = errno;
    ::close(fd);
    if (map == MAP_FAILED) fail("cannot map image '{}': {}", path, std::strerror(err));
    data_ = static_cast<std::uint8_t*>(map);
}

MappedFile::~MappedFile()
{
    if (data_) ::munmap(data_, size_);
}

std::uint8_t* MappedFile::mutable_data()
{
    if (!writable_) fail("image '{}' is open read-only", path_);
    return data_;
}

} // namespace vmi
