#pragma once
// Opens a memory-dump file as a PhysicalMemory: ELF cores (QEMU
// dump-guest-memory, virsh dump --memory-only) and raw images (pmemsave, dd).
#include <memory>
#include <string>

#include "vmi/PhysicalMemory.hpp"

namespace vmi {

std::unique_ptr<PhysicalMemory> open_image_file(const std::string& path, bool writable);

} // namespace vmi
