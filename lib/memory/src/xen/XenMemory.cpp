#include "xen/XenMemory.hpp"

#include <sys/mman.h>

#include <algorithm>
#include <cstring>

#include "pause/SignalSafeCommand.hpp"
#include "vmi/base/Diagnostics.hpp"
#include "vmi/base/Error.hpp"
#include "vmi/memory/XenGuest.hpp"
#include "xen/XenApi.hpp"

namespace vmi {
namespace {

constexpr std::uint64_t PAGE = 4096;
// Pages per xenforeignmemory_map call for reads (256 KiB: neighbouring
// structures and page tables share a call), and calls kept mapped (256 MiB).
constexpr std::size_t READ_BATCH = 64;
constexpr std::size_t READ_BATCHES_KEPT = 1024;
// Frames per getpageframeinfo3 call when HVM RAM is surveyed.
constexpr unsigned int SURVEY_BATCH = 1024;

std::uint64_t page_type(xen_pfn_t answer) { return answer & XEN_DOMCTL_PFINFO_LTAB_MASK; }

} // namespace

std::unique_ptr<MemorySource> open_xen_guest(const std::string& name, std::optional<std::uint32_t> domid, bool writable)
{
    return std::make_unique<XenMemory>(std::make_unique<XenDomain>(name, domid), writable);
}

XenMemory::XenMemory(std::unique_ptr<XenDomain> domain, bool writable) : domain_(std::move(domain)), writable_(writable)
{
    xc_dominfo_t info = domain_->info();
    hvm_ = info.hvm != 0;
    if (hvm_) {
        // PVH is an HVM container without emulated legacy devices.
        kind_ = (info.arch_config.emulation_flags & XEN_X86_EMU_PIC) ? "HVM" : "PVH";
        hvm_ranges_ = populated_ranges();
    } else {
        kind_ = "PV";
        unsigned int width = 0;
        if (XenApi::get().xc_domain_get_guest_width(domain_->xc(), domain_->id(), &width) != 0)
            fail("{}: cannot get the guest's width: {}", domain_->describe(), domain_->last_library_error());
        if (width != 8)
            fail("{}: a {}-bit PV guest; only 64-bit PV guests are supported", domain_->describe(), width * 8);
        physmap_ = std::make_unique<XenPvPhysmap>(*domain_);
    }
    readable_ = std::make_unique<XenFrameCache>(
        *domain_, [this](std::uint64_t pfn) { return frame_of(pfn); }, PROT_READ, READ_BATCH, READ_BATCHES_KEPT);
    if (writable_)
        writable_pages_ = std::make_unique<XenFrameCache>(
            *domain_, [this](std::uint64_t pfn) { return frame_of(pfn); }, PROT_READ | PROT_WRITE, 1, 256);
    // Prepared now: the pause guardian is forked before the first pause.
    resume_by_xl_ =
        std::make_unique<SignalSafeCommand>("xl", std::vector<std::string>{"unpause", std::to_string(domain_->id())});
}

XenMemory::~XenMemory() = default;

std::optional<xen_pfn_t> XenMemory::frame_of(std::uint64_t pfn) const
{
    if (physmap_) return physmap_->mfn(pfn);
    return pfn;
}

// HVM/PVH RAM: every frame below the highest one that Xen has populated and
// that is not one of its special pages (shared info, grant table, ...).
std::vector<PhysicalRange> XenMemory::populated_ranges() const
{
    const XenApi& xen = XenApi::get();
    xen_pfn_t max_gpfn = 0;
    if (xen.xc_domain_maximum_gpfn(domain_->xc(), domain_->id(), &max_gpfn) < 0)
        fail("{}: cannot get its highest guest frame: {}", domain_->describe(), domain_->last_library_error());
    std::vector<PhysicalRange> ranges;
    std::vector<xen_pfn_t> frames(SURVEY_BATCH);
    for (std::uint64_t first = 0; first <= max_gpfn; first += SURVEY_BATCH) {
        auto count = static_cast<unsigned int>(std::min<std::uint64_t>(SURVEY_BATCH, max_gpfn + 1 - first));
        for (unsigned int i = 0; i < count; ++i) frames[i] = first + i;
        if (xen.xc_get_pfn_type_batch(domain_->xc(), domain_->id(), count, frames.data()) != 0)
            fail("{}: cannot survey its frames: {}", domain_->describe(), domain_->last_library_error());
        for (unsigned int i = 0; i < count; ++i) {
            std::uint64_t type = page_type(frames[i]);
            if (type == XEN_DOMCTL_PFINFO_XTAB || type == XEN_DOMCTL_PFINFO_XALLOC || type == XEN_DOMCTL_PFINFO_BROKEN)
                continue;
            std::uint64_t address = (first + i) * PAGE;
            if (!ranges.empty() && ranges.back().end() == address) ranges.back().size += PAGE;
            else ranges.push_back({address, PAGE});
        }
    }
    if (ranges.empty()) fail("{}: Xen reports no populated guest frames", domain_->describe());
    return ranges;
}

const std::vector<PhysicalRange>& XenMemory::ranges() const { return physmap_ ? physmap_->ranges() : hvm_ranges_; }

void XenMemory::read(std::uint64_t address, std::span<std::uint8_t> out)
{
    pause_.throw_if_expired();
    if (!is_ram(address, out.size()))
        fail("cannot read {} bytes at physical {:#x}: not guest RAM", out.size(), address);
    std::size_t done = 0;
    while (done < out.size()) {
        std::uint64_t at = address + done;
        std::size_t n = std::min<std::uint64_t>(out.size() - done, PAGE - (at & (PAGE - 1)));
        std::memcpy(out.data() + done, readable_->page(at / PAGE) + (at & (PAGE - 1)), n);
        done += n;
    }
    // Bytes read before the pause ran out were read from a paused guest (the
    // flag is set before the domain is unpaused); after, they may not be.
    pause_.throw_if_expired();
}

void XenMemory::write(std::uint64_t address, std::span<const std::uint8_t> data)
{
    pause_.throw_if_expired();
    if (!writable_) fail("{} is open read-only", domain_->describe());
    if (!is_ram(address, data.size()))
        fail("cannot write {} bytes at physical {:#x}: not guest RAM", data.size(), address);
    // Map every page first: a write that cannot complete changes nothing.
    std::vector<std::pair<std::uint8_t*, std::span<const std::uint8_t>>> pieces;
    std::size_t done = 0;
    while (done < data.size()) {
        std::uint64_t at = address + done;
        std::size_t n = std::min<std::uint64_t>(data.size() - done, PAGE - (at & (PAGE - 1)));
        pieces.emplace_back(writable_pages_->page(at / PAGE) + (at & (PAGE - 1)), data.subspan(done, n));
        done += n;
    }
    for (auto& [target, piece] : pieces) std::memcpy(target, piece.data(), piece.size());
}

std::optional<std::uint64_t> XenMemory::table_page_to_physical(std::uint64_t page) const
{
    if (!physmap_) return page;
    std::optional<std::uint64_t> pfn = physmap_->pfn(page / PAGE);
    if (!pfn) return std::nullopt;
    return *pfn * PAGE;
}

std::optional<CpuRegisters> XenMemory::registers() const
{
    if (!registers_) registers_ = hvm_ ? hvm_registers() : pv_registers();
    return registers_;
}

CpuRegisters XenMemory::pv_registers() const
{
    vcpu_guest_context_any_t context{};
    if (XenApi::get().xc_vcpu_getcontext(domain_->xc(), domain_->id(), 0, &context) != 0)
        fail("{}: cannot get vCPU 0's context: {}", domain_->describe(), domain_->last_library_error());
    const vcpu_guest_context_x86_64_t& c = context.x64;
    // ctrlreg[3] names the kernel's top page table by machine frame
    // (xen_pfn_to_cr3); ctrlreg[1] is the user one, which 64-bit PV keeps apart.
    std::uint64_t mfn = xen_cr3_to_pfn_x86_64(c.ctrlreg[3]);
    std::optional<std::uint64_t> pfn = physmap_->pfn(mfn);
    if (!pfn) fail("{}: CR3 names machine frame {:#x}, which is not the guest's", domain_->describe(), mfn);
    CpuRegisters regs;
    regs.cr0 = c.ctrlreg[0];
    regs.cr3 = *pfn * PAGE;
    regs.cr4 = c.ctrlreg[4];
    regs.efer = CpuRegisters::EFER_LME | CpuRegisters::EFER_LMA;
    regs.source = fmt::format("Xen PV context of vCPU 0 (CR3 machine frame {:#x} = guest page {:#x})", mfn, *pfn);
    regs.efer_source = "EFER implied: a 64-bit PV guest runs in long mode";
    return regs;
}

CpuRegisters XenMemory::hvm_registers() const
{
    hvm_hw_cpu cpu{};
    if (XenApi::get().xc_domain_hvm_getcontext_partial(domain_->xc(), domain_->id(), HVM_SAVE_CODE(CPU), 0, &cpu,
                                                       sizeof cpu) != 0)
        fail("{}: cannot get vCPU 0's HVM context: {}", domain_->describe(), domain_->last_library_error());
    CpuRegisters regs;
    regs.cr0 = cpu.cr0;
    regs.cr3 = cpu.cr3;
    regs.cr4 = cpu.cr4;
    regs.efer = cpu.msr_efer;
    regs.source = "Xen HVM context (CPU record of vCPU 0)";
    return regs;
}

void XenMemory::drop_mappings()
{
    readable_->clear();
    if (writable_pages_) writable_pages_->clear();
    registers_.reset();
}

bool XenMemory::pause()
{
    if (domain_->paused()) {
        diag::note("{} is paused already; it stays paused", domain_->describe());
        return false;
    }
    pause_.request_sent();
    try {
        domain_->pause();
    } catch (...) {
        pause_.request_undone(); // Xen said no: not paused
        throw;
    }
    pause_.started();
    try {
        drop_mappings();
        if (physmap_ && physmap_->refresh())
            diag::note("{}: the guest changed its p2m; read again", domain_->describe());
    } catch (...) {
        domain_->unpause(); // the caller never learns it was paused: undo it here
        pause_.request_undone();
        throw;
    }
    return true;
}

void XenMemory::resume()
{
    drop_mappings();
    if (pause_.needs_resume()) domain_->unpause();
    pause_.resumed();
}

void XenMemory::expire_pause(const std::string& why)
{
    pause_.expire(why);
    domain_->unpause();
    pause_.resumed_early();
}

void XenMemory::resume_from_signal_handler() noexcept
{
    if (!pause_.take_unresumed()) return;
    resume_signal_safe();
    pause_.resumed_from_signal_handler();
}

void XenMemory::resume_signal_safe() noexcept { resume_by_xl_->run(10000); }

bool XenMemory::resume_if_paused()
{
    if (!domain_->paused()) return false;
    drop_mappings();
    domain_->unpause();
    return true;
}

std::string XenMemory::guest_key() const { return fmt::format("xen-{}-{}", domain_->id(), domain_->name()); }

std::string XenMemory::resume_command() const { return fmt::format("xl unpause {}", domain_->id()); }

std::string XenMemory::describe() const
{
    std::uint64_t total = 0;
    for (const PhysicalRange& range : ranges()) total += range.size;
    std::string how = physmap_ ? physmap_->describe() : "guest frames mapped as they are";
    return fmt::format("{} {} guest ({} RAM ranges, {} MiB; {})", domain_->describe(), kind_, ranges().size(),
                       total >> 20, how);
}

} // namespace vmi
