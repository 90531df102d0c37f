#include "dump/ImageMemory.hpp"

#include <algorithm>
#include <cstring>

#include "vmi/base/Error.hpp"
#include "vmi/base/PositionalRead.hpp"

namespace vmi {

ImageMemory::ImageMemory(std::unique_ptr<MappedFile> file, std::vector<ImageSegment> segments,
                         std::optional<CpuRegisters> registers, std::string kind)
    : file_(std::move(file)), segments_(std::move(segments)), registers_(std::move(registers)), kind_(std::move(kind))
{
    std::sort(segments_.begin(), segments_.end(),
              [](const ImageSegment& a, const ImageSegment& b) { return a.range.start < b.range.start; });
    for (std::size_t i = 0; i + 1 < segments_.size(); ++i)
        if (segments_[i].range.end() > segments_[i + 1].range.start)
            fail("{} '{}': memory segments overlap at physical address {:#x}", kind_, file_->path(),
                 segments_[i + 1].range.start);
    // Adjacent segments (QEMU splits RAM at region boundaries) form one range.
    for (const ImageSegment& segment : segments_) {
        if (!ranges_.empty() && ranges_.back().end() == segment.range.start) ranges_.back().size += segment.range.size;
        else ranges_.push_back(segment.range);
    }
}

const ImageSegment* ImageMemory::segment_at(std::uint64_t address) const
{
    auto it = std::upper_bound(segments_.begin(), segments_.end(), address,
                               [](std::uint64_t a, const ImageSegment& s) { return a < s.range.start; });
    if (it == segments_.begin()) return nullptr;
    --it;
    return it->range.contains(address) ? &*it : nullptr;
}

void ImageMemory::read(std::uint64_t address, std::span<std::uint8_t> out)
{
    std::size_t done = 0;
    while (done < out.size()) {
        std::uint64_t at = address + done;
        if (at < address) fail("physical read at {:#x} wraps around the address space", address);
        const ImageSegment* segment = segment_at(at);
        if (!segment) fail("physical address {:#x} is not in guest RAM (hole or past the end of the image)", at);
        std::uint64_t offset = at - segment->range.start;
        std::size_t chunk =
            static_cast<std::size_t>(std::min<std::uint64_t>(out.size() - done, segment->range.size - offset));
        std::uint64_t at_file = segment->file_offset + offset;
        if (chunk >= STREAMED_READ) file_->read_at(at_file, out.subspan(done, chunk));
        else std::memcpy(out.data() + done, file_->bytes().data() + at_file, chunk);
        done += chunk;
    }
}

std::vector<PhysicalRange> ImageMemory::data_ranges() const
{
    std::vector<PhysicalRange> out;
    for (const ImageSegment& segment : segments_)
        for (const FileExtent& extent : file_->data_extents(segment.file_offset, segment.range.size))
            out.push_back({segment.range.start + (extent.offset - segment.file_offset), extent.size});
    return out;
}

void ImageMemory::write(std::uint64_t address, std::span<const std::uint8_t> data)
{
    if (!file_->writable())
        fail("{} '{}' is open read-only (writing to a dump needs --writable-image)", kind_, file_->path());
    // Check the whole target first, so a write into a hole changes nothing.
    if (!is_ram(address, data.size()))
        fail("physical range {:#x}..{:#x} is not entirely guest RAM", address, address + data.size());
    std::size_t done = 0;
    while (done < data.size()) {
        const ImageSegment* segment = segment_at(address + done);
        std::uint64_t offset = address + done - segment->range.start;
        std::size_t chunk =
            static_cast<std::size_t>(std::min<std::uint64_t>(data.size() - done, segment->range.size - offset));
        std::memcpy(file_->mutable_data() + segment->file_offset + offset, data.data() + done, chunk);
        done += chunk;
    }
}

std::string ImageMemory::describe() const
{
    std::uint64_t total = 0;
    for (const PhysicalRange& range : ranges_) total += range.size;
    return fmt::format("{} '{}' ({} RAM range{}, {} MiB{})", kind_, file_->path(), ranges_.size(),
                       ranges_.size() == 1 ? "" : "s", total >> 20, file_->writable() ? ", writable" : "");
}

} // namespace vmi
