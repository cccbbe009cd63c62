# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Independent work side by side in threads, with one report of every failure.

A worker that fails (module.fail_json in a worker thread raises WorkerFailure) does not print a
result of its own: every worker is waited for, and the main thread fails the module once, listing
each worker's failure. Two JSON documents on stdout would be an unreadable MODULE FAILURE.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from ansible_collections.convex_selfhost.aws.plugins.module_utils.module import WorkerFailure


def run_all(module, calls, max_workers=None, lane=None):
    """The results of calls (functions of no argument), in their order. lane(index) is entered in
    each worker first, as a context manager (the write log's lanes keep changes in a fixed
    order); any failure fails the module after every call has ended."""

    def worker(index, call):
        if lane is None:
            return call()
        with lane(index):
            return call()

    with ThreadPoolExecutor(max_workers=max_workers or len(calls) or 1) as pool:
        futures = [pool.submit(worker, index, call) for index, call in enumerate(calls)]
        outcomes = []
        for future in futures:
            try:
                outcomes.append((True, future.result()))
            except WorkerFailure as failure:
                outcomes.append((False, failure))
    failures = [outcome for ok, outcome in outcomes if not ok]
    if len(failures) == 1:
        module.fail_json(msg=failures[0].msg, **failures[0].result)
    if failures:
        messages = [failure.msg for failure in failures]
        module.fail_json(
            msg=f"{len(failures)} things failed: " + " | ".join(messages),
            failures=[{"msg": failure.msg, **failure.result} for failure in failures],
        )
    return [result for ok, result in outcomes]
