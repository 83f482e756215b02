// The request-level and browser tests of dvs serve come in the next commit.
import DVSServe
