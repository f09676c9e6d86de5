#!/usr/bin/env python3
"""Validate .circleci/config.yml against SchemaStore's CircleCI schema, offline.

SchemaStore's circleciconfig.json is a $ref to CircleCI's own schema (circleci-yaml-language-
server/schema.json); both are stored in schemas/circleci and the remote $ref is served from
the stored copy. Usage: validate_circleci.py SCHEMA_DIR CONFIG.yml
"""
import json
import os
import sys

import jsonschema
import yaml
from referencing import Registry, Resource

REMOTE = "https://raw.githubusercontent.com/CircleCI-Public/circleci-yaml-language-server/refs/heads/main/schema.json"


def workflow_jobs(config):
    """(workflow, job name, its invocation's settings) for every job a workflow runs."""
    for wf_name, wf in config.get("workflows", {}).items():
        for item in (wf.get("jobs", []) if isinstance(wf, dict) else []):
            name, spec = (item, {}) if isinstance(item, str) else next(iter(item.items()))
            yield wf_name, name, spec or {}


def run_commands(job):
    return [st["run"]["command"] if isinstance(st["run"], dict) else st["run"]
            for st in job.get("steps", []) if isinstance(st, dict) and "run" in st]


def pipeline_rules(config):
    """What the shop's pipeline must keep (skipped for configs without a deploy job, like fixtures):
    one deploy at a time across pipelines, through the SSM deploy document (no cluster credential
    or kubectl in CI); the browser suite on an image that can install Chromium (not cimg/*, which
    is Ubuntu: Chromium only as a snap), and each suite run in one job only."""
    jobs = config.get("jobs", {})
    if "deploy" not in jobs:
        return []
    problems = []
    for wf_name, name, spec in workflow_jobs(config):
        if name == "deploy" and not spec.get("serial-group"):
            problems.append(f"workflow {wf_name}: deploy has no serial-group: two pipelines could deploy at once")
    suites = {}
    for name, job in jobs.items():
        for cmd in run_commands(job):
            for line in cmd.splitlines():
                words = line.split()
                if "scripts/test" in words:
                    args = words[words.index("scripts/test") + 1:]
                    for suite in args or ["cargo", "infra", "browser"]:
                        suites.setdefault(suite, []).append(name)
                if "infra-tests/run" in words:
                    suites.setdefault("infra", []).append(name)
    # Deploys go through the SSM deploy document: CI holds no cluster credential and installs
    # neither the Session Manager plugin nor kubectl.
    text = yaml.safe_dump(config)
    for word in ("session-manager-plugin", "kubectl", "K8S_DEPLOYER_TOKEN", "K8S_CA_DATA", "start-session"):
        if word in text:
            problems.append(f"the pipeline mentions {word}: deploys go through the SSM deploy document")
    commands = [c for j in list(jobs.values()) + list((config.get("commands") or {}).values()) for c in run_commands(j)]
    if not any('aws ssm send-command --document-name "$DEPLOY_DOCUMENT_NAME"' in c for c in commands):
        problems.append("the pipeline does not deploy by sending the SSM deploy document")
    for suite, where in sorted(suites.items()):
        if len(where) > 1:
            problems.append(f"the {suite} suite runs in more than one job: {where}")
    for name in suites.get("browser", []):
        image = jobs[name].get("docker", [{}])[0].get("image", "")
        if image.startswith("cimg/"):
            problems.append(f"job {name} runs the browser suite on {image} (Ubuntu: no Chromium package)")
    return problems


def main(schema_dir, config_path):
    with open(os.path.join(schema_dir, "schemastore-circleciconfig.json")) as f:
        root = json.load(f)
    with open(os.path.join(schema_dir, "circleci-yaml-language-server-schema.json")) as f:
        target = json.load(f)
    if root.get("$ref") != REMOTE:
        print(f"SchemaStore's schema now points at {root.get('$ref')}: update schemas/circleci")
        return 1
    registry = Registry().with_resource(REMOTE, Resource.opaque(target))
    with open(config_path) as f:
        config = yaml.safe_load(f)
    validator = jsonschema.Draft7Validator(root, registry=registry)
    errors = sorted(validator.iter_errors(config), key=lambda e: list(map(str, e.absolute_path)))
    for e in errors:
        best = jsonschema.exceptions.best_match([e])
        print(f"  {'/'.join(map(str, best.absolute_path)) or '<root>'}: {best.message[:300]}")
    # The schema admits almost any mapping under `jobs`; check the references it cannot.
    problems = []
    jobs = set(config.get("jobs", {}))
    for wf_name, name, spec in workflow_jobs(config):
        if name not in jobs:
            problems.append(f"workflow {wf_name}: job {name} is not defined")
        for req in spec.get("requires", []):
            if req not in jobs:
                problems.append(f"workflow {wf_name}: {name} requires undefined job {req}")
    problems += pipeline_rules(config)
    for p in problems:
        print(f"  {p}")
    print(f"{config_path}: {'valid' if not errors and not problems else 'INVALID'}")
    return 1 if errors or problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
