#include "vmi/AddressTarget.hpp"

#include "vmi/CStringReader.hpp"
#include "vmi/Diagnostics.hpp"
#include "vmi/Error.hpp"
#include "vmi/NumberParser.hpp"
#include "vmi/SymbolExpression.hpp"

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

AddressTarget AddressTarget::resolve(const AddressOptions& options, Session& session)
{
    AddressTarget target;
    target.session_ = &session;
    if (!options.pa.empty()) {
        target.address_ = parse_u64(options.pa, "--pa");
        session.memory();
    } else if (!options.va.empty()) {
        target.address_ = parse_u64(options.va, "--va");
        if (!options.dtb.empty()) {
            std::uint64_t dtb = parse_u64(options.dtb, "--dtb");
            target.own_space_ = std::make_unique<AddressSpace>(session.address_space(dtb));
            target.space_ = target.own_space_.get();
        } else {
            target.space_ = &session.kernel();
        }
    } else if (!options.ksym.empty()) {
        SymbolExpression expression = SymbolExpression::parse(options.ksym);
        const Symbol& symbol = session.symbols().require(expression.name);
        target.address_ = symbol.address + expression.offset;
        target.space_ = &session.kernel();
        diag::note("{} is at {:#x}", options.ksym, target.address_);
    } else {
        fail("no address given: use one of --pa ADDR, --va ADDR or --ksym NAME[+OFF]");
    }
    if (target.space_ && diag::verbose()) {
        Translation t = target.space_->try_translate(target.address_);
        if (t.ok) diag::note("virtual {:#x} is physical {:#x} ({} KiB page)", target.address_, t.physical, t.page_size >> 10);
    }
    return target;
}

unsigned AddressTarget::pointer_size() const
{
    if (space_) return vmi::pointer_size(space_->mode());
    auto regs = session_->memory().registers();
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

void AddressTarget::read(std::uint64_t offset, std::span<std::uint8_t> out)
{
    if (space_) space_->read(address_ + offset, out);
    else session_->memory().read(address_ + offset, out);
}

std::string AddressTarget::read_string(std::size_t max_length, bool* terminated)
{
    return read_c_string([this](std::uint64_t at, std::span<std::uint8_t> out) { read(at - address_, out); }, address_,
                         max_length, terminated);
}

void AddressTarget::write(std::uint64_t offset, std::span<const std::uint8_t> data)
{
    if (space_) space_->write(address_ + offset, data);
    else session_->memory().write(address_ + offset, data);
}

} // namespace vmi
