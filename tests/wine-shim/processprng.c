/* Test harness only, never shipped: Wine 8 lacks ProcessPrng in bcryptprimitives.dll, which
 * Rust's standard library (1.78+) imports. Placed beside ward-agent.exe under Wine, this DLL
 * provides it over RtlGenRandom. Real Windows 10/11 has the function. */
#include <windows.h>
#include <ntsecapi.h>

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len) {
    return RtlGenRandom(data, (ULONG)len);
}
