// For the few core definitions that must be one and the same in a shared enos::device and in the
// program using it, even when either is built with -fvisibility=hidden: the error categories
// (std::error_code compares categories by address). The core itself stays header-only and needs no
// generated header.
#pragma once

#if defined(__GNUC__) || defined(__clang__)
#define ENOS_DEVICE_VISIBLE __attribute__((visibility("default")))
#else
#define ENOS_DEVICE_VISIBLE
#endif
