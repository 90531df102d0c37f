#pragma once
#include <memory>

#include "vmi/base/MappedFile.hpp"
#include "vmi/memory/MemorySource.hpp"

namespace vmi {

// An ELF core of guest memory (QEMU dump-guest-memory, virsh dump
// --memory-only), 32- or 64-bit: one physical range per LOAD segment, and
// vCPU 0's control registers from QEMU's CPU-state note when present.
std::unique_ptr<MemorySource> open_elf_core(std::unique_ptr<MappedFile> file);

} // namespace vmi
