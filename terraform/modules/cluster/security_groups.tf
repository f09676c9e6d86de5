# Least privilege between the load balancer, the control plane and the workers. No SSH from
# anywhere (Ansible and people use SSM Session Manager, outbound 443 only).
# Kubernetes (kubeadm) + Calico in VXLAN mode: 6443 API, 2379-2380 etcd, 10250 kubelet,
# 10257/10259 controller-manager/scheduler (local), 4789/udp VXLAN, 5473 Calico Typha.
resource "aws_security_group" "alb" {
  name        = "${var.name}-alb"
  description = "Public load balancer of the shop"
  vpc_id      = var.vpc_id
  tags        = { Name = "${var.name}-alb" }
}

resource "aws_security_group" "control_plane" {
  name        = "${var.name}-control-plane"
  description = "Kubernetes control plane"
  vpc_id      = var.vpc_id
  tags        = { Name = "${var.name}-control-plane" }
}

resource "aws_security_group" "worker" {
  name        = "${var.name}-worker"
  description = "Kubernetes workers"
  vpc_id      = var.vpc_id
  tags        = { Name = "${var.name}-worker" }
}

locals {
  node_sgs = {
    control_plane = aws_security_group.control_plane.id
    worker        = aws_security_group.worker.id
  }

  # Rules between nodes: target SG <- source SG.
  node_rules = merge(
    { for src, sg in local.node_sgs : "cp-api-from-${src}" => { target = "control_plane", source = src, proto = "tcp", from = 6443, to = 6443, desc = "Kubernetes API" } },
    { "cp-etcd-from-control_plane" = { target = "control_plane", source = "control_plane", proto = "tcp", from = 2379, to = 2380, desc = "etcd" } },
    { for pair in setproduct(keys(local.node_sgs), keys(local.node_sgs)) : "${pair[0]}-kubelet-from-${pair[1]}" => { target = pair[0], source = pair[1], proto = "tcp", from = 10250, to = 10250, desc = "kubelet (API server, metrics-server)" } },
    { for pair in setproduct(keys(local.node_sgs), keys(local.node_sgs)) : "${pair[0]}-vxlan-from-${pair[1]}" => { target = pair[0], source = pair[1], proto = "udp", from = 4789, to = 4789, desc = "Calico VXLAN (pod network)" } },
    { for pair in setproduct(keys(local.node_sgs), keys(local.node_sgs)) : "${pair[0]}-typha-from-${pair[1]}" => { target = pair[0], source = pair[1], proto = "tcp", from = 5473, to = 5473, desc = "Calico Typha" } },
  )
}

resource "aws_vpc_security_group_ingress_rule" "nodes" {
  for_each                     = local.node_rules
  security_group_id            = local.node_sgs[each.value.target]
  referenced_security_group_id = local.node_sgs[each.value.source]
  ip_protocol                  = each.value.proto
  from_port                    = each.value.from
  to_port                      = each.value.to
  description                  = each.value.desc
}

resource "aws_vpc_security_group_egress_rule" "nodes" {
  for_each                     = local.node_rules
  security_group_id            = local.node_sgs[each.value.source]
  referenced_security_group_id = local.node_sgs[each.value.target]
  ip_protocol                  = each.value.proto
  from_port                    = each.value.from
  to_port                      = each.value.to
  description                  = each.value.desc
}

# Nodes: out to HTTPS (AWS APIs, registries, GitHub releases) and HTTP (Ubuntu archive, whose
# packages apt verifies by signature) only.
resource "aws_vpc_security_group_egress_rule" "nodes_https" {
  for_each          = local.node_sgs
  security_group_id = each.value
  cidr_ipv4         = "0.0.0.0/0"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  description       = "HTTPS: AWS APIs, SSM, container registries, release downloads"
}

resource "aws_vpc_security_group_egress_rule" "nodes_http" {
  for_each          = local.node_sgs
  security_group_id = each.value
  cidr_ipv4         = "0.0.0.0/0"
  ip_protocol       = "tcp"
  from_port         = 80
  to_port           = 80
  description       = "HTTP: Ubuntu package archive (signed)"
}

# ---------------------------------------------------------------- load balancer <-> workers
resource "aws_vpc_security_group_ingress_rule" "alb_https" {
  security_group_id = aws_security_group.alb.id
  cidr_ipv4         = "0.0.0.0/0"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  description       = "The shop's public HTTPS"
}

resource "aws_vpc_security_group_ingress_rule" "alb_http" {
  #checkov:skip=CKV_AWS_260:Public port 80 only answers with a 301 redirect to HTTPS (listener http_redirect)
  security_group_id = aws_security_group.alb.id
  cidr_ipv4         = "0.0.0.0/0"
  ip_protocol       = "tcp"
  from_port         = 80
  to_port           = 80
  description       = "HTTP, redirected to HTTPS by the listener"
}

resource "aws_vpc_security_group_egress_rule" "alb_to_workers" {
  for_each                     = tomap(var.ingress_node_ports)
  security_group_id            = aws_security_group.alb.id
  referenced_security_group_id = aws_security_group.worker.id
  ip_protocol                  = "tcp"
  from_port                    = each.value
  to_port                      = each.value
  description                  = "Istio ingress gateway NodePort (${each.key})"
}

resource "aws_vpc_security_group_ingress_rule" "workers_from_alb" {
  for_each                     = tomap(var.ingress_node_ports)
  security_group_id            = aws_security_group.worker.id
  referenced_security_group_id = aws_security_group.alb.id
  ip_protocol                  = "tcp"
  from_port                    = each.value
  to_port                      = each.value
  description                  = "Istio ingress gateway NodePort (${each.key}) from the load balancer"
}
