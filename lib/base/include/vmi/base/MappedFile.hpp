#pragma once
// A file mapped into memory (read-only or shared read-write), unmapped on
// destruction. Dumps of many GiB are used in place, never copied.
//
// Large reads go through read_at() (pread) instead of the mapping, so that a
// scan of a 16 GiB dump does not end with 16 GiB resident (PositionalRead.hpp).
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "vmi/base/FileExtents.hpp"

namespace vmi {

class MappedFile {
public:
    // `kind` names the file in errors: "cannot open image 'x': ...".
    MappedFile(const std::string& path, bool writable, std::string_view kind = "image");
    ~MappedFile();
    MappedFile(const MappedFile&) = delete;
    MappedFile& operator=(const MappedFile&) = delete;

    const std::string& path() const { return path_; }
    std::size_t size() const { return size_; }
    bool writable() const { return writable_; }
    std::span<const std::uint8_t> bytes() const { return {data_, size_}; }
    std::uint8_t* mutable_data();
    // Copies [offset, offset + out.size()) of the file into `out` by pread;
    // throws vmi::Error on an I/O error or a range past the end.
    void read_at(std::uint64_t offset, std::span<std::uint8_t> out) const;
    // Where [offset, offset + size) holds data rather than holes (FileExtents.hpp).
    std::vector<FileExtent> data_extents(std::uint64_t offset, std::uint64_t size) const;

private:
    std::string path_;
    int fd_ = -1;
    std::uint8_t* data_ = nullptr;
    std::size_t size_ = 0;
    bool writable_ = false;
};

} // namespace vmi
