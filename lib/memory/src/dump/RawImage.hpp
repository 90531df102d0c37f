#pragma once
#include <memory>

#include "vmi/base/MappedFile.hpp"
#include "vmi/memory/MemorySource.hpp"

namespace vmi {

// A raw image (QEMU pmemsave, dd of guest RAM): file offset = physical address.
std::unique_ptr<MemorySource> open_raw_image(std::unique_ptr<MappedFile> file);

} // namespace vmi
