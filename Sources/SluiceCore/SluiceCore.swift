// SluiceCore: the shared vocabulary of Sluice, with no I/O.
//
// Why it exists: the pure modules (HTTP1, Routing, Telemetry) and the loop
// need a few common pieces (time ticks, a cheap PRNG, a timer wheel, a
// lock for cold cross-thread paths) without depending on each other.
// What it must never do: make syscalls on its own, import Foundation.

/// Milliseconds on the monotonic clock. The loop reads the clock once per
/// tick and passes the value down, so pure code takes time as a parameter.
public typealias Millis = UInt64
