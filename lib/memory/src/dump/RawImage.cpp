#include "dump/RawImage.hpp"

#include "dump/ImageMemory.hpp"
#include "vmi/base/Error.hpp"

namespace vmi {

std::unique_ptr<MemorySource> open_raw_image(std::unique_ptr<MappedFile> file)
{
    // Raw RAM images are whole pages; anything else is some other file.
    if (file->size() % 4096 != 0)
        fail("image '{}' is neither an ELF core nor a raw memory image (its size, {} bytes, is not a multiple of 4096)",
             file->path(), file->size());
    std::vector<ImageSegment> segments{{{0, file->size()}, 0}};
    return std::make_unique<ImageMemory>(std::move(file), std::move(segments), std::nullopt, "raw image");
}

} // namespace vmi
