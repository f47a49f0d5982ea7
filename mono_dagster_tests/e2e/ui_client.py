"""A small client of the Dagster webserver's GraphQL API, sending the documents the Dagster UI sends.

Only what the end-to-end test needs: workspace status, partition keys, `launchPartitionBackfill` (the
asset "Materialize" dialog), the launchpad's partition tags and `launchRun`, and run/backfill status.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import httpx

REPOSITORY = "__repository__"  # a `Definitions` object is served as this repository

WORKSPACE_QUERY = """
query Workspace {
  workspaceOrError {
    __typename
    ... on Workspace {
      locationEntries {
        name
        loadStatus
        locationOrLoadError {
          __typename
          ... on RepositoryLocation { repositories { name } }
          ... on PythonError { message stack }
        }
      }
    }
    ... on PythonError { message }
  }
}
"""

ASSET_PARTITION_KEYS_QUERY = """
query AssetPartitionKeys($assetKey: AssetKeyInput!) {
  assetNodeOrError(assetKey: $assetKey) {
    __typename
    ... on AssetNode { partitionKeysByDimension { name partitionKeys } }
  }
}
"""

# The UI's LAUNCH_PARTITION_BACKFILL_MUTATION (instance/backfill/BackfillUtils.tsx).
LAUNCH_BACKFILL_MUTATION = """
mutation LaunchPartitionBackfill($backfillParams: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $backfillParams) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on PartitionKeysNotFoundError { message partitionKeys }
    ... on Error { message }
    ... on InvalidStepError { invalidStepKey }
    ... on InvalidOutputError { stepKey invalidOutputName }
  }
}
"""

BACKFILL_QUERY = """
query Backfill($backfillId: String!) {
  partitionBackfillOrError(backfillId: $backfillId) {
    __typename
    ... on PartitionBackfill {
      id
      status
      numPartitions
      error { message stack }
      runs { runId status tags { key value } }
    }
    ... on Error { message }
  }
}
"""

# The launchpad's CONFIG_PARTITION_SELECTION_QUERY: the run config and tags of one partition.
PARTITION_QUERY = """
query ConfigPartitionSelection(
  $repositorySelector: RepositorySelector!, $partitionSetName: String!, $partitionName: String!
) {
  partitionSetOrError(repositorySelector: $repositorySelector, partitionSetName: $partitionSetName) {
    __typename
    ... on PartitionSet {
      partition(partitionName: $partitionName) {
        name
        mode
        runConfigOrError { __typename ... on PartitionRunConfig { yaml } ... on Error { message } }
        tagsOrError { __typename ... on PartitionTags { results { key value } } ... on Error { message } }
      }
    }
    ... on Error { message }
  }
}
"""

LAUNCH_RUN_MUTATION = """
mutation LaunchRun($executionParams: ExecutionParams!) {
  launchRun(executionParams: $executionParams) {
    __typename
    ... on LaunchRunSuccess { run { runId status } }
    ... on RunConfigValidationInvalid { errors { message } }
    ... on Error { message }
  }
}
"""

RUN_QUERY = """
query Run($runId: ID!) {
  runOrError(runId: $runId) {
    __typename
    ... on Run { runId status jobName tags { key value } }
    ... on Error { message }
  }
}
"""

RUNS_QUERY = """
query Runs($filter: RunsFilter) {
  runsOrError(filter: $filter) {
    __typename
    ... on Runs { results { runId status jobName tags { key value } } }
    ... on Error { message }
  }
}
"""

RUN_LOGS_QUERY = """
query RunLogs($runId: ID!) {
  logsForRun(runId: $runId, limit: 1000) {
    __typename
    ... on EventConnection {
      events {
        __typename
        ... on MessageEvent { message level stepKey }
        ... on ErrorEvent { error { message stack } }
      }
    }
    ... on Error { message }
  }
}
"""


class GraphQLError(AssertionError):
    """The server answered with errors, or with an error type where the test expected success."""


def tags_dict(tags: Sequence[dict[str, str]]) -> dict[str, str]:
    return {tag["key"]: tag["value"] for tag in tags}


class DagsterUI:
    def __init__(self, base_url: str, location: str) -> None:
        self.base_url = base_url
        self.location = location
        self._http = httpx.Client(base_url=base_url, timeout=30.0)

    def close(self) -> None:
        self._http.close()

    @property
    def repository_selector(self) -> dict[str, str]:
        return {"repositoryLocationName": self.location, "repositoryName": REPOSITORY}

    def execute(self, document: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        response = self._http.post("/graphql", json={"query": document, "variables": variables or {}})
        response.raise_for_status()
        body = response.json()
        if body.get("errors"):
            raise GraphQLError(f"GraphQL errors: {body['errors']}")
        return body["data"]

    # -- readiness -----------------------------------------------------------------------------------
    def server_info(self) -> dict[str, Any] | None:
        """`/server_info`, or None while the webserver does not answer yet."""
        try:
            response = self._http.get("/server_info", timeout=2.0)
        except httpx.TransportError:
            return None
        return response.json() if response.status_code == 200 else None

    def loaded_location(self) -> list[str] | None:
        """The location's repository names once it has loaded; None while it loads; fails on a load error."""
        result = self.execute(WORKSPACE_QUERY)["workspaceOrError"]
        if result["__typename"] != "Workspace":
            raise GraphQLError(f"workspace: {result}")
        entry = next((e for e in result["locationEntries"] if e["name"] == self.location), None)
        if entry is None or entry["loadStatus"] != "LOADED":
            return None
        location = entry["locationOrLoadError"]
        if location["__typename"] != "RepositoryLocation":
            raise GraphQLError(f"code location {self.location} failed to load: {location.get('message')}")
        return [repository["name"] for repository in location["repositories"]]

    # -- the asset "Materialize" dialog ----------------------------------------------------------------
    def partition_keys_by_dimension(self, asset_key: str) -> dict[str, list[str]]:
        node = self.execute(ASSET_PARTITION_KEYS_QUERY, {"assetKey": {"path": [asset_key]}})["assetNodeOrError"]
        if node["__typename"] != "AssetNode":
            raise GraphQLError(f"asset {asset_key}: {node}")
        return {dimension["name"]: dimension["partitionKeys"] for dimension in node["partitionKeysByDimension"]}

    def launch_asset_backfill(self, asset_keys: Sequence[str], partition_names: Sequence[str]) -> str:
        """What "Materialize → Launch backfill" sends for a selection of assets of the asset group."""
        params = {
            "tags": [],
            "assetSelection": [{"path": [key]} for key in asset_keys],
            "partitionNames": list(partition_names),
            "fromFailure": False,
        }
        result = self.execute(LAUNCH_BACKFILL_MUTATION, {"backfillParams": params})["launchPartitionBackfill"]
        if result["__typename"] != "LaunchBackfillSuccess":
            raise GraphQLError(f"launchPartitionBackfill: {result}")
        return result["backfillId"]

    def backfill(self, backfill_id: str) -> dict[str, Any]:
        result = self.execute(BACKFILL_QUERY, {"backfillId": backfill_id})["partitionBackfillOrError"]
        if result["__typename"] != "PartitionBackfill":
            raise GraphQLError(f"backfill {backfill_id}: {result}")
        return result

    # -- the launchpad -------------------------------------------------------------------------------
    def partition_tags(self, partition_set: str, partition_name: str) -> dict[str, str]:
        """The tags the launchpad puts on a run when the user picks this partition."""
        variables = {
            "repositorySelector": self.repository_selector,
            "partitionSetName": partition_set,
            "partitionName": partition_name,
        }
        result = self.execute(PARTITION_QUERY, variables)["partitionSetOrError"]
        if result["__typename"] != "PartitionSet" or result["partition"] is None:
            raise GraphQLError(f"partition {partition_name} of {partition_set}: {result}")
        tags = result["partition"]["tagsOrError"]
        if tags["__typename"] != "PartitionTags":
            raise GraphQLError(f"tags of partition {partition_name}: {tags}")
        return tags_dict(tags["results"])

    def launch_run(self, job_name: str, run_config_yaml: str, tags: dict[str, str]) -> str:
        params = {
            "selector": {**self.repository_selector, "jobName": job_name},
            "runConfigData": run_config_yaml,
            "mode": "default",
            "executionMetadata": {"tags": [{"key": key, "value": value} for key, value in tags.items()]},
        }
        result = self.execute(LAUNCH_RUN_MUTATION, {"executionParams": params})["launchRun"]
        if result["__typename"] != "LaunchRunSuccess":
            raise GraphQLError(f"launchRun: {result}")
        return result["run"]["runId"]

    # -- runs ----------------------------------------------------------------------------------------
    def run(self, run_id: str) -> dict[str, Any]:
        result = self.execute(RUN_QUERY, {"runId": run_id})["runOrError"]
        if result["__typename"] != "Run":
            raise GraphQLError(f"run {run_id}: {result}")
        return result

    def runs(self, job_name: str | None = None) -> list[dict[str, Any]]:
        run_filter = {"pipelineName": job_name} if job_name else {}
        result = self.execute(RUNS_QUERY, {"filter": run_filter})["runsOrError"]
        if result["__typename"] != "Runs":
            raise GraphQLError(f"runs: {result}")
        return result["results"]

    def run_log(self, run_id: str) -> str:
        """The run's event log as text lines, for failure messages."""
        result = self.execute(RUN_LOGS_QUERY, {"runId": run_id})["logsForRun"]
        if result["__typename"] != "EventConnection":
            return f"(no logs for run {run_id}: {result})"
        lines = []
        for event in result["events"]:
            line = f"{event.get('level', '?')} {event.get('stepKey') or '-'} {event.get('message', '')}"
            error = event.get("error")
            if error:
                line += f"\n{error['message']}\n{error['stack'] and ''.join(error['stack'])}"
            lines.append(line)
        return "\n".join(lines)
