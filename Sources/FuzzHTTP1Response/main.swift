import HTTP1

// libFuzzer entry point; see FuzzHTTP1Request.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    FuzzChecks.response(UnsafeRawBufferPointer(start: data, count: size))
    return 0
}
