#pragma once
// The libvirt functions the kvm backend calls, loaded with dlopen on first
// use rather than linked: libvirt drags some sixty shared libraries into a
// process, ~25 ms of start-up that every run of every tool would pay, on
// dumps and QMP guests too. Types come from libvirt's own headers, so each
// pointer has exactly the declared signature.
#include <libvirt/libvirt-qemu.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

namespace vmi {

struct LibvirtApi {
    decltype(&::virSetErrorFunc) virSetErrorFunc;
    decltype(&::virGetLastErrorMessage) virGetLastErrorMessage;
    decltype(&::virConnectOpen) virConnectOpen;
    decltype(&::virConnectClose) virConnectClose;
    decltype(&::virDomainLookupByName) virDomainLookupByName;
    decltype(&::virDomainFree) virDomainFree;
    decltype(&::virDomainGetState) virDomainGetState;
    decltype(&::virDomainGetUUIDString) virDomainGetUUIDString;
    decltype(&::virDomainSuspend) virDomainSuspend;
    decltype(&::virDomainResume) virDomainResume;
    decltype(&::virDomainQemuMonitorCommand) virDomainQemuMonitorCommand;
    decltype(&::virDomainQemuAgentCommand) virDomainQemuAgentCommand;
    decltype(&::virConnectListAllDomains) virConnectListAllDomains;
    decltype(&::virDomainGetName) virDomainGetName;
    decltype(&::virDomainLookupByUUIDString) virDomainLookupByUUIDString;
    decltype(&::virDomainGetMetadata) virDomainGetMetadata;

    // Loads libvirt.so.0 and libvirt-qemu.so.0 once; throws vmi::Error
    // saying which library or function is missing.
    static const LibvirtApi& get();
};

} // namespace vmi
