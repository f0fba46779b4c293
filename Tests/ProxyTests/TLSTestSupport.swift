import Harness

extension BlockingSocket {
    /// Everything until the peer closes (a reset counts as the end too).
    func readToEOF() throws -> [UInt8] {
        var all: [UInt8] = []
        while true {
            guard let chunk = try? read(), !chunk.isEmpty else { return all }
            all += chunk
        }
    }
}
