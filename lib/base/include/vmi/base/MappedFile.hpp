#pragma once
// A file mapped into memory (read-only or shared read-write), unmapped on
// destruction. Dumps of many GiB are used in place, never copied.
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

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

private:
    std::string path_;
    std::uint8_t* data_ = nullptr;
    std::size_t size_ = 0;
    bool writable_ = false;
};

} // namespace vmi
