#pragma once
// Where vmi-read and vmi-write point: --pa ADDR (guest-physical), --va ADDR
// (kernel virtual, or another address space with --dtb ADDR), or
// --ksym NAME[+OFF] (kernel symbol). Resolved against the opened guest.
#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include <CLI/CLI.hpp>

#include "common/Guest.hpp"
#include "common/GuestWrite.hpp"
#include "vmi/paging/AddressSpace.hpp"

namespace vmi {

struct AddressOptions {
    std::string pa;
    std::string va;
    std::string ksym;
    std::string dtb;
};

void add_address_options(CLI::App& app, AddressOptions& options);

class AddressTarget {
public:
    // Exactly one of --pa/--va/--ksym must be set; --dtb goes with --va only.
    static AddressTarget resolve(const AddressOptions& options, Guest& guest);

    std::uint64_t address() const { return address_; }
    bool is_physical() const { return space_ == nullptr; }
    // Word size of the target: the guest's pointer size, or 8 for --pa on a
    // guest whose paging mode is unknown.
    unsigned pointer_size() const;
    // "physical", "kernel" or "dtb 0x..."
    std::string space_name() const;
    // Guest-physical address of the target's first byte; nullopt when a
    // virtual target is not mapped.
    std::optional<std::uint64_t> physical_address();

    // The first `size` bytes of the target page by page: where each piece is
    // in guest RAM and, for a virtual target, the page's rights from a fresh
    // page walk. Throws vmi::Error naming the first byte that is not mapped
    // or not RAM.
    std::vector<WritePiece> pieces(std::uint64_t size);

    void read(std::uint64_t offset, std::span<std::uint8_t> out);
    std::string read_string(std::size_t max_length, bool* terminated);
    void write(std::uint64_t offset, std::span<const std::uint8_t> data);

private:
    Guest* guest_ = nullptr;
    std::unique_ptr<AddressSpace> own_space_;
    AddressSpace* space_ = nullptr;
    std::uint64_t address_ = 0;
};

} // namespace vmi
