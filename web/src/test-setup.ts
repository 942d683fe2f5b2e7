// Component tests wait for what the page shows (findBy*, waitFor) with a
// bound; Testing Library's 1 s default is too short on a busy machine, where
// a first render alone can take longer. A test that passes waits only as
// long as it needs.
import { configure } from '@testing-library/dom'

configure({ asyncUtilTimeout: 20_000 })
