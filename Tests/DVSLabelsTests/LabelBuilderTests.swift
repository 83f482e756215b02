import DVSCore
import DVSLabels
import Testing

@Suite struct LabelBuilderSmokeTests {
    @Test func emptyTreeHasNoFindings() throws {
        let r = try LabelBuilder.build(files: [], read: { _ in [] })
        #expect(r.findings.isEmpty && r.samples.isEmpty)
    }
}
