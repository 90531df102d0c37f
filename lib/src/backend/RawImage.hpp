#pragma once
#include <memory>

#include "vmi/MappedFile.hpp"
#include "vmi/PhysicalMemory.hpp"

namespace vmi {

// A raw image (QEMU pmemsave, dd of guest RAM): file offset = physical address.
std::unique_ptr<PhysicalMemory> open_raw_image(std::unique_ptr<MappedFile> file);

} // namespace vmi
