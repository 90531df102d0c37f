#pragma once
// Guest-physical memory backed by a mapped dump file: a sorted table of
// segments, each a run of physical addresses stored at some file offset.
// Raw images have one segment; ELF cores one per LOAD program header.
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "vmi/base/MappedFile.hpp"
#include "vmi/memory/MemorySource.hpp"

namespace vmi {

struct ImageSegment {
    PhysicalRange range;
    std::uint64_t file_offset = 0;
};

class ImageMemory : public MemorySource {
public:
    ImageMemory(std::unique_ptr<MappedFile> file, std::vector<ImageSegment> segments,
                std::optional<CpuRegisters> registers, std::string kind);

    void read(std::uint64_t address, std::span<std::uint8_t> out) override;
    void write(std::uint64_t address, std::span<const std::uint8_t> data) override;
    const std::vector<PhysicalRange>& ranges() const override { return ranges_; }
    // The segments' data extents in the file (a sparse dump's holes left out).
    std::vector<PhysicalRange> data_ranges() const override;
    std::optional<CpuRegisters> registers() const override { return registers_; }
    bool writable() const override { return file_->writable(); }
    std::string describe() const override;

private:
    // The segment holding `address`, or nullptr for a hole.
    const ImageSegment* segment_at(std::uint64_t address) const;

    std::unique_ptr<MappedFile> file_;
    std::vector<ImageSegment> segments_;
    std::vector<PhysicalRange> ranges_;
    std::optional<CpuRegisters> registers_;
    std::string kind_;
};

} // namespace vmi
