#include "common/AddressTarget.hpp"

#include "vmi/base/CStringReader.hpp"
#include "vmi/base/Diagnostics.hpp"
#include "vmi/base/Error.hpp"
#include "vmi/base/NumberParser.hpp"
#include "vmi/base/PagingMode.hpp"
#include "vmi/symbols/SymbolExpression.hpp"

namespace vmi {

void add_address_options(CLI::App& app, AddressOptions& options)
{
    auto* pa = app.add_option("--pa", options.pa, "Guest-physical address");
    auto* va = app.add_option("--va", options.va, "Kernel virtual address (another address space with --dtb)");
    auto* ksym = app.add_option("--ksym", options.ksym, "Kernel symbol, optionally plus an offset: NAME[+OFF]");
    pa->excludes(va)->excludes(ksym);
    va->excludes(ksym);
    app.add_option("--dtb", options.dtb, "Page-table root (physical) for --va, e.g. a process's")->needs(va);
}

AddressTarget AddressTarget::resolve(const AddressOptions& options, Guest& guest)
{
    AddressTarget target;
    target.guest_ = &guest;
    if (!options.pa.empty()) {
        target.address_ = parse_u64(options.pa, "--pa");
        guest.memory();
    } else if (!options.va.empty()) {
        target.address_ = parse_u64(options.va, "--va");
        if (!options.dtb.empty()) {
            std::uint64_t dtb = parse_u64(options.dtb, "--dtb");
            target.own_space_ = std::make_unique<AddressSpace>(guest.kernel().process_space(dtb));
            target.space_ = target.own_space_.get();
        } else {
            target.space_ = &guest.kernel().kernel_space();
        }
    } else if (!options.ksym.empty()) {
        SymbolExpression expression = SymbolExpression::parse(options.ksym);
        const Symbol& symbol = guest.kernel().require_symbol(expression.name);
        target.address_ = symbol.address + expression.offset;
        target.space_ = &guest.kernel().kernel_space();
        diag::note("{} is at {:#x}", options.ksym, target.address_);
    } else {
        fail("no address given: use one of --pa ADDR, --va ADDR or --ksym NAME[+OFF]");
    }
    if (target.space_ && diag::verbose()) {
        Translation t = target.space_->try_translate(target.address_);
        if (t.ok)
            diag::note("virtual {:#x} is physical {:#x} ({} KiB page)", target.address_, t.physical, t.page_size >> 10);
    }
    return target;
}

unsigned AddressTarget::pointer_size() const
{
    if (space_) return vmi::pointer_size(space_->mode());
    auto regs = guest_->memory().registers();
    auto mode = regs ? regs->paging_mode() : std::nullopt;
    return mode ? vmi::pointer_size(*mode) : 8;
}

std::string AddressTarget::space_name() const
{
    if (!space_) return "physical";
    if (own_space_) return fmt::format("dtb {:#x}", space_->dtb());
    return "kernel";
}

std::optional<std::uint64_t> AddressTarget::physical_address()
{
    if (!space_) return address_;
    Translation t = space_->try_translate(address_);
    return t.ok ? std::optional<std::uint64_t>(t.physical) : std::nullopt;
}

std::vector<WritePiece> AddressTarget::pieces(std::uint64_t size)
{
    MemorySource& memory = guest_->memory();
    // A walker, not the address space: its translation cache keeps no rights.
    std::optional<PageWalker> walker;
    if (space_) walker.emplace(memory, space_->mode(), space_->dtb());
    std::vector<WritePiece> out;
    std::uint64_t offset = 0;
    while (offset < size) {
        WritePiece piece;
        piece.offset = offset;
        piece.address = address_ + offset;
        piece.size = std::min<std::uint64_t>(size - offset, 4096 - (piece.address & 0xfff));
        piece.physical = piece.address;
        if (walker) {
            Translation t = walker->translate(piece.address);
            if (!t.ok)
                fail("virtual address {:#x} is not mapped ({}; {} page tables at {:#x})", piece.address, t.problem,
                     name(space_->mode()), space_->dtb());
            piece.physical = t.physical;
            // x86-64 Linux keeps user space in the lower half. In the upper half the
            // U/S bit says nothing about sharing: a 64-bit Xen PV guest's kernel
            // runs in ring 3, so Xen requires U/S on its kernel pages too.
            bool user = t.user && !(is_64bit(space_->mode()) && (piece.address >> 63) != 0);
            piece.rights = PageRights{t.writable, user, t.no_execute};
        }
        if (!memory.is_ram(piece.physical, piece.size)) {
            std::uint64_t first = piece.physical;
            while (memory.is_ram(first)) ++first;
            fail("physical address {:#x} is not in guest RAM", first);
        }
        out.push_back(piece);
        offset += piece.size;
    }
    return out;
}

void AddressTarget::read(std::uint64_t offset, std::span<std::uint8_t> out)
{
    if (space_) space_->read(address_ + offset, out);
    else guest_->memory().read(address_ + offset, out);
}

std::string AddressTarget::read_string(std::size_t max_length, bool* terminated)
{
    return read_c_string([this](std::uint64_t at, std::span<std::uint8_t> out) { read(at - address_, out); }, address_,
                         max_length, terminated);
}

void AddressTarget::write(std::uint64_t offset, std::span<const std::uint8_t> data)
{
    if (space_) space_->write(address_ + offset, data);
    else guest_->memory().write(address_ + offset, data);
}

} // namespace vmi
