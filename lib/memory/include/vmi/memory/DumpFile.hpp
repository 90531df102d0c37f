#pragma once
// Opens a memory-dump file as a MemorySource: ELF cores (QEMU
// dump-guest-memory, virsh dump --memory-only) and raw images (pmemsave, dd).
#include <memory>
#include <string>

#include "vmi/memory/MemorySource.hpp"

namespace vmi {

std::unique_ptr<MemorySource> open_image_file(const std::string& path, bool writable);

} // namespace vmi
