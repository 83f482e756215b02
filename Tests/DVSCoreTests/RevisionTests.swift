import DVSCore
import Testing

/// Revisions are parsed once (`Revision`), ranges split at `..` (`RevisionRange`).
@Suite struct RevisionTests {
    @Test func baseAndSuffixesAreParsedOnce() {
        #expect(Revision("HEAD").isHead && Revision("@").isHead)
        #expect(Revision("@").base == .head && Revision("HEAD~2").base == .head && !Revision("HEAD~2").isHead)
        #expect(Revision("main").base == .name("main") && Revision("main").steps.isEmpty)
        #expect(Revision("cohort/es~2^^3~").steps == [.ancestor(2), .parent(1), .parent(3), .ancestor(1)])
        #expect(Revision("v1^0").steps == [.parent(0)])
        #expect(Revision("main~1x").steps == [.ancestor(1), .malformed])
        #expect(Revision("main~99999999999999999999999").steps == [.badCount])
        #expect(Revision("").base == .name("") && Revision("").spelling.isEmpty)
        let literal: Revision = "main~1"
        #expect(literal == Revision("main~1") && literal.description == "main~1")
    }

    @Test func rangesSplitAtTheFirstDotDot() {
        let r = RevisionRange("main..cohort/es")
        #expect(r.excluded == Revision("main") && r.included == Revision("cohort/es"))
        #expect(RevisionRange("..x").excluded == .head && RevisionRange("x..").included == .head)
        #expect(RevisionRange("HEAD~2").excluded == nil && RevisionRange("HEAD~2").included == Revision("HEAD~2"))
    }
}
