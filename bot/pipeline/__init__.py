"""The orchestrator: poll one feed, and decide when each feed is polled next.

`poller` composes the stages (fetch → read → match → store → route → render) for one feed and
is the only module that calls them; `plan` routes and renders one matched item; `fulltext`
decides the items that wait for their page's text, which `reading` fetches and extracts;
`scheduler` runs the polls on APScheduler with jitter and concurrency limits; `schedule` is the
pure arithmetic of intervals and back-off; `runtime` is the config in force with its compiled
matchers; `report` is what a poll did; `digests` queues alerts as each chat receives them
and builds the digests that are due; `copies` finds the earlier statement a new one copies;
`cycle` polls many feeds at once under claims (`vigil once` beside running replicas).
"""

from bot.pipeline.plan import statement_key
from bot.pipeline.poller import Poller
from bot.pipeline.report import PlannedAlert, PollReport
from bot.pipeline.runtime import Runtime

__all__ = ["PlannedAlert", "PollReport", "Poller", "Runtime", "statement_key"]
