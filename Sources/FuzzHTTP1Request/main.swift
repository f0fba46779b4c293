import HTTP1

// libFuzzer entry point; the checks live in HTTP1.FuzzChecks so an ordinary
// test replays the corpus through the same code. Built by scripts/fuzz.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    FuzzChecks.request(UnsafeRawBufferPointer(start: data, count: size))
    return 0
}
