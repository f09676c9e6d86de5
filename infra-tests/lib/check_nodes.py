#!/usr/bin/env python3
"""Static checks of how workers reach AWS, join and leave (terraform/modules/cluster + ansible/).

  check_nodes.py ROOT

imds     the worker launch template: IMDSv2 required, hop limit 1 (pods cannot reach IMDS); the
         control plane has hop limit 1, or 2 only with the Calico IMDS guard (ansible/roles/calico:
         a tier before `default` whose policy denies 169.254.169.254 to every workload endpoint but
         the EBS CSI controller's pods and passes the rest), applied after Calico's API server
join     the autoscaling group's launch template has user-data that runs join-worker.yml
         (the worker roles, kubeadm_worker with the SSM join credential) from a verified bundle
drain    a termination lifecycle hook (CONTINUE by default) -> EventBridge rule -> the drain
         document on the control plane, with the instance id from the event -> shop-drain-node
ebs      the worker role has no EBS volume-management permissions; the EBS CSI controller runs on
         the control plane and the node plugin on the host network (IMDS at hop limit 1)
secret   the join parameter is a SecureString (control plane's publisher), its key lets only the
         worker role decrypt, and only the worker role may read / the control plane write it

Prints one line per problem (prefixed with the check's name) and exits 1 if there is any.
"""
import ast
import pathlib
import re
import sys

import hcl2
import yaml

ROOT = pathlib.Path(sys.argv[1])
CLUSTER = ROOT / "terraform" / "modules" / "cluster"
ANSIBLE = ROOT / "ansible"
problems = []


def problem(check, message):
    problems.append(f"{check}: {message}")


def one(value):
    while isinstance(value, list) and len(value) == 1:
        value = value[0]
    return value


resources, datas, local_values = {}, {}, {}
for tf in sorted(CLUSTER.glob("*.tf")):
    with open(tf) as fh:
        parsed = hcl2.load(fh)
    for block in parsed.get("resource", []):
        for rtype, named in block.items():
            for name, body in named.items():
                resources[(rtype, name)] = body
    for block in parsed.get("data", []):
        for dtype, named in block.items():
            for name, body in named.items():
                datas[(dtype, name)] = body
    for block in parsed.get("locals", []):
        local_values.update({k: one(v) for k, v in block.items() if not k.startswith("__")})


def of_type(rtype):
    return {name: body for (t, name), body in resources.items() if t == rtype}


def function_object(expr):
    """'${jsonencode({...})}' (python-hcl2's rendering) -> the Python object."""
    match = re.fullmatch(r"\$\{\w+\((.*)\)\}", str(one(expr)), re.S)
    if not match:
        return None
    try:
        return ast.literal_eval(match.group(1))
    except (ValueError, SyntaxError):
        return None


def as_list(value):
    value = one(value)
    return value if isinstance(value, list) else [value]


def yaml_file(path):
    with open(path) as fh:
        return yaml.safe_load(fh)


def role_refs(body):
    """Roles an attachment/inline policy applies to, by Terraform resource name."""
    role = str(one(body.get("role", "")))
    names = set(re.findall(r"aws_iam_role\.(\w+)\.", role))
    if "each.value" in role:
        for value in as_list(body.get("for_each", [])):
            if isinstance(value, dict):
                for ref in value.values():
                    names.update(re.findall(r"aws_iam_role\.(\w+)\.", str(ref)))
    return names


def statements(doc_ref):
    """Statements of data.aws_iam_policy_document.NAME referenced as '${data....json}'."""
    match = re.search(r"data\.aws_iam_policy_document\.(\w+)\.json", str(doc_ref))
    if not match:
        return []
    doc = datas.get(("aws_iam_policy_document", match.group(1)), {})
    return doc.get("statement", [])


def inline_statements(role):
    for body in of_type("aws_iam_role_policy").values():
        if role in role_refs(body):
            yield from statements(one(body.get("policy")))


# ---------------------------------------------------------------- imds
lt = resources.get(("aws_launch_template", "worker"))
if lt is None:
    problem("imds", "no aws_launch_template.worker")
    lt = {}
metadata = one(lt.get("metadata_options", [{}])) or {}
hop = one(metadata.get("http_put_response_hop_limit"))
if hop != 1:
    problem("imds", f"worker launch template: IMDS hop limit is {hop}, must be 1 (pods must not reach IMDS)")
if one(metadata.get("http_tokens")) != "required":
    problem("imds", "worker launch template: IMDSv2 (http_tokens = required) is not enforced")
if one(metadata.get("http_endpoint", "enabled")) != "enabled":
    problem("imds", "worker launch template: IMDS disabled, but the host needs it (ECR credential provider, join)")

# The control plane's hop limit 2 is for the EBS CSI controller only: every other pod there
# must be kept from IMDS by the Calico IMDS guard. The controller's pod labels are those of chart
# 2.40.0 (templates/controller.yaml: app, and app.kubernetes.io/name from _helpers.tpl) for the
# release the storage role installs; a chart bump must re-check them.
EBS_CHART = "2.40.0"
EXEMPT = ("projectcalico.org/namespace == 'kube-system' && app == 'ebs-csi-controller'"
          " && app.kubernetes.io/name == 'aws-ebs-csi-driver'")
GUARD_SELECTOR = f"has(projectcalico.org/orchestrator) && !({EXEMPT})"
DEFAULT_TIER_ORDER = 1_000_000  # Calico v3.30 api/pkg/apis/projectcalico/v3/tier.go
IMDS_NET = "169.254.169.254/32"


def imds_guard():
    """Problems of the Calico IMDS guard (ansible/roles/calico), [] if it is in place."""
    found = []
    calico_dir = ANSIBLE / "roles/calico"
    tasks = yaml_file(calico_dir / "tasks/main.yml") or []
    copies = {}
    for task in tasks:
        copy = task.get("ansible.builtin.copy") or {}
        if copy.get("src") and copy.get("dest"):
            copies[copy["dest"]] = calico_dir / "files" / copy["src"]
    applied, ready = None, False
    for task in tasks:
        cmd = str(task.get("ansible.builtin.command") or "")
        if "apiservice/v3.projectcalico.org" in cmd or "tigerastatus/apiserver" in cmd:
            ready = True
        match = re.search(r"kubectl .*apply -f (\S+)", cmd)
        if match and match.group(1) in copies:
            applied = copies[match.group(1)]
            if not ready:
                found.append("the IMDS guard is applied before Calico's API server (projectcalico.org/v3) is ready")
            break
    if applied is None or not applied.exists():
        return found + ["the calico role applies no IMDS guard (a copied file of Tier/GlobalNetworkPolicy)"]
    with open(applied) as fh:
        docs = [d for d in yaml.safe_load_all(fh) if d]
    tiers = {d["metadata"]["name"]: d.get("spec") or {} for d in docs if d.get("kind") == "Tier"}
    policies = [d for d in docs if d.get("kind") == "GlobalNetworkPolicy"]
    if not policies:
        found.append(f"{applied.name} has no GlobalNetworkPolicy denying {IMDS_NET}")
    guarded = False
    for pol in policies:
        spec, name = pol.get("spec") or {}, pol["metadata"]["name"]
        tier = spec.get("tier", "default")
        order = (tiers.get(tier) or {}).get("order")
        if tier not in tiers or not isinstance(order, (int, float)) or order >= DEFAULT_TIER_ORDER:
            found.append(f"policy {name}: its tier {tier!r} is not a Tier of {applied.name} ordered before default")
            continue
        if not name.startswith(f"{tier}."):
            found.append(f"policy {name}: a policy in tier {tier} must be named {tier}.<name>")
        selector = " ".join(str(spec.get("selector", "")).split())
        if selector != GUARD_SELECTOR:
            found.append(f"policy {name}: selector {selector!r} must exempt exactly the EBS CSI controller: {GUARD_SELECTOR!r}")
        if "Egress" not in (spec.get("types") or []):
            found.append(f"policy {name}: not an Egress policy")
        rules = spec.get("egress") or []
        first = rules[0] if rules else {}
        dest = first.get("destination") or {}
        if (first.get("action") != "Deny" or dest.get("nets") != [IMDS_NET] or set(first) - {"action", "destination"}
                or set(dest) != {"nets"}):
            found.append(f"policy {name}: the first egress rule is not a plain Deny to {IMDS_NET}")
        elif any(r.get("action") == "Allow" for r in rules):
            found.append(f"policy {name}: allows traffic itself (the NetworkPolicies of the next tiers must decide)")
        elif not (rules[-1].get("action") == "Pass" and set(rules[-1]) == {"action"}):
            found.append(f"policy {name}: does not pass all other egress to the next tier")
        else:
            guarded = True
    if policies and not guarded:
        found.append(f"no policy in {applied.name} keeps pods other than the EBS CSI controller from IMDS")
    storage_helm = yaml.safe_load((ANSIBLE / "roles/storage/tasks/main.yml").read_text())[0]["kubernetes.core.helm"]
    versions = yaml_file(ANSIBLE / "group_vars/all/versions.yml")
    if (storage_helm.get("name"), storage_helm.get("release_namespace")) != ("aws-ebs-csi-driver", "kube-system") or any(
        k in (storage_helm.get("values") or {}) for k in ("nameOverride", "fullnameOverride")
    ):
        found.append("the EBS CSI release is not aws-ebs-csi-driver in kube-system: the guard's exemption no longer matches it")
    if str(versions.get("aws_ebs_csi_driver_chart_version")) != EBS_CHART:
        found.append(f"EBS CSI chart {versions.get('aws_ebs_csi_driver_chart_version')} != {EBS_CHART}: re-check the controller's labels")
    return found


cp_instance = resources.get(("aws_instance", "control_plane"), {})
cp_metadata = one(cp_instance.get("metadata_options", [{}])) or {}
cp_hop = one(cp_metadata.get("http_put_response_hop_limit", 1))
if one(cp_metadata.get("http_tokens")) != "required":
    problem("imds", "control plane: IMDSv2 (http_tokens = required) is not enforced")
if cp_hop != 1:
    if cp_hop != 2:
        problem("imds", f"control plane: IMDS hop limit is {cp_hop}; 2 at most (the EBS CSI controller)")
    for message in imds_guard():
        problem("imds", f"control plane hop limit {cp_hop} without the IMDS guard: {message}")

# ---------------------------------------------------------------- join
asg = resources.get(("aws_autoscaling_group", "workers"), {})
asg_lt = one(asg.get("launch_template", [{}])) or {}
if "aws_launch_template.worker." not in str(one(asg_lt.get("id", ""))):
    problem("join", "aws_autoscaling_group.workers does not launch aws_launch_template.worker")
user_data = str(one(lt.get("user_data", "")))
template = re.search(r"templatefile\(\"\$\{path\.module\}/([^\"]+)\"", user_data)
if not user_data:
    problem("join", "the worker launch template has no user-data: new workers would never join")
elif not template:
    problem("join", "the worker user-data is not rendered from a template file of the module")
else:
    script_path = CLUSTER / template.group(1)
    script = script_path.read_text() if script_path.exists() else ""
    for needle, why in [
        ("join-worker.yml", "does not run join-worker.yml"),
        ("ansible-playbook", "does not run ansible-playbook"),
        ("--require-hashes", "does not install Ansible from a hashed lock"),
        ("hashlib.sha256", "does not verify the bundle's sha256"),
        ("${join_parameter}", "does not wait for the join credential"),
    ]:
        if needle not in script:
            problem("join", f"worker user-data {template.group(1)} {why}")
    for var in ("join_parameter", "bundle_parameter", "control_plane_ip", "node_binaries_bucket"):
        if f"'{var}'" not in user_data:
            problem("join", f"worker user-data is not given {var}")
join_play = yaml_file(ANSIBLE / "join-worker.yml") if (ANSIBLE / "join-worker.yml").exists() else []
play = join_play[0] if join_play else {}
if "kubeadm_worker" not in (play.get("roles") or []):
    problem("join", "join-worker.yml does not run the kubeadm_worker role")
if not (play.get("vars") or {}).get("kubeadm_worker_join_from_ssm"):
    problem("join", "join-worker.yml does not take the join credential from SSM")
cp_defaults = yaml_file(ANSIBLE / "roles/kubeadm_control_plane/defaults/main.yml")
bundle = cp_defaults.get("kubeadm_control_plane_bundle_files", [])
for needed in ["join-worker.yml", "requirements-node.lock", "group_vars/all/versions.yml"] + [
    f"roles/{r}" for r in (play.get("roles") or [])
]:
    if needed not in bundle:
        problem("join", f"the workers' bundle lacks {needed}")
join_template = (ANSIBLE / "roles/kubeadm_worker/templates/kubeadm-join.yaml.j2").read_text()
worker_defaults = yaml_file(ANSIBLE / "roles/kubeadm_worker/defaults/main.yml")
if "kubeadm_worker_instance_label }}={{ ansible_facts['ec2_instance_id'] }}" not in join_template:
    problem("join", "kubeadm join does not label the Node with its instance id (the drain finds it so)")
if "name: provider-id" not in join_template:
    problem("join", "kubeadm join does not set the kubelet's provider-id (EBS CSI node plugin)")

# ---------------------------------------------------------------- drain
hook_name_ref = None
hooks = of_type("aws_autoscaling_lifecycle_hook")
terminating = [
    (name, h) for name, h in hooks.items()
    if one(h.get("lifecycle_transition")) == "autoscaling:EC2_INSTANCE_TERMINATING"
    and "aws_autoscaling_group.workers." in str(one(h.get("autoscaling_group_name")))
]
if not terminating:
    problem("drain", "no EC2_INSTANCE_TERMINATING lifecycle hook on the workers' autoscaling group")
else:
    name, hook = terminating[0]
    hook_name_ref = str(one(hook.get("name")))
    if one(hook.get("default_result")) != "CONTINUE":
        problem("drain", "the termination hook's default result must be CONTINUE (a failed drain must not keep the instance)")
    if not hook.get("heartbeat_timeout"):
        problem("drain", "the termination hook has no heartbeat_timeout")
rules = {
    name: function_object(rule.get("event_pattern")) or {}
    for name, rule in of_type("aws_cloudwatch_event_rule").items()
}
drain_rules = [
    name for name, pattern in rules.items()
    if "EC2 Instance-terminate Lifecycle Action" in pattern.get("detail-type", [])
    and hook_name_ref in (pattern.get("detail", {}).get("LifecycleHookName") or [])
]
if terminating and not drain_rules:
    problem("drain", "no EventBridge rule matches the termination hook's lifecycle action")
wired = False
for target in of_type("aws_cloudwatch_event_target").values():
    if not any(f"aws_cloudwatch_event_rule.{r}." in str(one(target.get("rule"))) for r in drain_rules):
        continue
    doc_match = re.search(r"aws_ssm_document\.(\w+)\.arn", str(one(target.get("arn"))))
    rct = one(target.get("run_command_targets", [{}])) or {}
    transformer = one(target.get("input_transformer", [{}])) or {}
    paths = one(transformer.get("input_paths", [{}])) or {}
    keys = [k for k, v in paths.items() if v == "$.detail.EC2InstanceId"]
    tmpl = str(one(transformer.get("input_template", ""))).replace('\\"', '"')
    if not doc_match:
        problem("drain", "the rule's target is not a Terraform-managed SSM document")
        continue
    doc = resources.get(("aws_ssm_document", doc_match.group(1)), {})
    content = function_object(doc.get("content")) or {}
    params = content.get("parameters", {})
    if one(rct.get("key")) != "InstanceIds" or "aws_instance.control_plane.id" not in str(rct.get("values")):
        problem("drain", "the drain document is not sent to the control plane instance")
    if not keys:
        problem("drain", "the target does not pass $.detail.EC2InstanceId from the event")
    passed = [p for p in params if any(f'"{p}":["<{k}>"]' in tmpl for k in keys)]
    if not passed:
        problem("drain", "the input template does not set a document parameter to the event's instance id")
    for p in passed:
        if not params[p].get("allowedPattern", "").startswith("^i-"):
            problem("drain", f"document parameter {p} has no instance-id allowedPattern")
    commands = " ".join(str(c) for step in content.get("mainSteps", []) for c in step.get("inputs", {}).get("runCommand", []))
    if "shop-drain-node" not in commands:
        problem("drain", "the drain document does not run shop-drain-node")
    events_role = re.search(r"aws_iam_role\.(\w+)\.arn", str(one(target.get("role_arn"))))
    sends = [s for s in inline_statements(events_role.group(1) if events_role else "")
             if "ssm:SendCommand" in as_list(s.get("actions"))]
    for s in sends:
        res = as_list(s.get("resources"))
        if sorted(res) != sorted([f"${{aws_ssm_document.{doc_match.group(1)}.arn}}", "${aws_instance.control_plane.arn}"]):
            problem("drain", f"EventBridge's role may send more than the drain document to the control plane: {res}")
    if not sends:
        problem("drain", "EventBridge's role may not send the drain document")
    wired = True
if drain_rules and not wired:
    problem("drain", "the termination rule is not wired to the drain document")
drain_script = ANSIBLE / "roles/kubeadm_control_plane/templates/shop-drain-node.py.j2"
text = drain_script.read_text() if drain_script.exists() else ""
for needle in ('"drain"', "--ignore-daemonsets", "--delete-emptydir-data", "--timeout=", '"delete", "node"', "complete_lifecycle_action"):
    if needle not in text:
        problem("drain", f"shop-drain-node lacks {needle}")
completes = [s for s in inline_statements("control_plane") if "autoscaling:CompleteLifecycleAction" in as_list(s.get("actions"))]
if not completes or any(as_list(s.get("resources")) != ["${aws_autoscaling_group.workers.arn}"] for s in completes):
    problem("drain", "the control plane may not complete lifecycle actions on exactly the workers' group")

# ---------------------------------------------------------------- ebs
VOLUME_ACTIONS = re.compile(r"^ec2:(\*|.*Volume.*|.*Snapshot.*)$|^\*$")
for name, body in of_type("aws_iam_role_policy_attachment").items():
    if "worker" in role_refs(body) and re.search(r"EBS|EC2FullAccess|AdministratorAccess", str(one(body.get("policy_arn")))):
        problem("ebs", f"worker role gets {one(body.get('policy_arn'))} ({name})")
for s in inline_statements("worker"):
    bad = [a for a in as_list(s.get("actions")) if VOLUME_ACTIONS.match(str(a))]
    if bad:
        problem("ebs", f"worker role may manage volumes: {bad}")
    if any("aws_kms_key.ebs." in str(r) for r in as_list(s.get("resources"))):
        problem("ebs", "worker role may use the EBS key (CSI volume encryption)")
storage = (ANSIBLE / "roles/storage/tasks/main.yml").read_text()
storage_values = yaml.safe_load(storage)[0]["kubernetes.core.helm"]["values"]
if (storage_values.get("controller", {}).get("nodeSelector") or {}).get("node-role.kubernetes.io/control-plane") != "":
    problem("ebs", "the EBS CSI controller is not pinned to the control plane (the only role with EBS permissions)")
node_values = storage_values.get("node", {}) or {}
if node_values.get("hostNetwork") is not True:
    problem("ebs", "the EBS CSI node plugin is not on the host network: at hop limit 1 it cannot read IMDS "
            "(workers that joined without providerID have no other source)")
node_env = {e["name"]: e.get("value") for e in node_values.get("env", []) or []}
if "AWS_EC2_METADATA_DISABLED" in node_env:
    problem("ebs", "the EBS CSI node plugin has AWS_EC2_METADATA_DISABLED: workers without providerID lose their volumes")

# ---------------------------------------------------------------- secret
tf_param = str(local_values.get("join_parameter", ""))
for where, value in [
    ("kubeadm_control_plane", cp_defaults.get("kubeadm_control_plane_join_parameter", "")),
    ("kubeadm_worker", worker_defaults.get("kubeadm_worker_join_parameter", "")),
]:
    if value.replace("{{ resource_name }}", "NAME") != tf_param.replace("${var.name}", "NAME"):
        problem("secret", f"{where} uses join parameter {value!r}, Terraform {tf_param!r}")
alias = next((str(one(a.get("name"))) for a in of_type("aws_kms_alias").values()
              if "aws_kms_key.kubeadm_join." in str(one(a.get("target_key_id")))), "")
if cp_defaults.get("kubeadm_control_plane_join_key", "").replace("{{ resource_name }}", "NAME") != alias.replace("${var.name}", "NAME"):
    problem("secret", "the publisher's KMS key is not Terraform's kubeadm_join key")
publisher = (ANSIBLE / "roles/kubeadm_control_plane/templates/shop-publish-join.py.j2").read_text()
if 'Type="SecureString"' not in publisher or "KeyId=" not in publisher:
    problem("secret", "the join parameter is not written as a SecureString with the join key")
for name, p in of_type("aws_ssm_parameter").items():
    if "kubeadm/join" in str(one(p.get("name"))) and one(p.get("type")) != "SecureString":
        problem("secret", f"aws_ssm_parameter.{name} holds the join credential but is not a SecureString")
key_policy = function_object(resources.get(("aws_kms_key", "kubeadm_join"), {}).get("policy"))
if not key_policy:
    problem("secret", "aws_kms_key.kubeadm_join has no readable key policy")
else:
    for st in key_policy.get("Statement", []):
        actions = as_list(st.get("Action"))
        principal = str(st.get("Principal"))
        decrypts = any(a in ("kms:*", "*", "kms:Decrypt") or (a.endswith("*") and "kms:Decrypt".startswith(a[:-1])) for a in actions)
        if st.get("Effect") == "Allow" and decrypts and principal != "{'AWS': '${aws_iam_role.worker.arn}'}":
            problem("secret", f"key statement {st.get('Sid')} lets {principal} decrypt the join credential")
        encrypts = any(a in ("kms:*", "*", "kms:Encrypt") for a in actions)
        if st.get("Effect") == "Allow" and encrypts and principal != "{'AWS': '${aws_iam_role.control_plane.arn}'}":
            problem("secret", f"key statement {st.get('Sid')} lets {principal} write the join credential")
for role in {r for body in of_type("aws_iam_role_policy").values() for r in role_refs(body)}:
    for s in inline_statements(role):
        res = [str(r) for r in as_list(s.get("resources"))]
        acts = as_list(s.get("actions"))
        touches = any("local.join_parameter_arn" in r or r == "*" for r in res)
        if touches and any(str(a).startswith(("ssm:GetParameter", "ssm:*")) for a in acts) and role != "worker":
            problem("secret", f"role {role} may read the join parameter")
        if touches and any(str(a) in ("ssm:PutParameter", "ssm:*") for a in acts) and role != "control_plane":
            problem("secret", f"role {role} may write the join parameter")

for line in problems:
    print(line)
print(f"check_nodes: {len(problems)} problem(s)")
sys.exit(1 if problems else 0)
