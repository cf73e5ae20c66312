/* SPDX-License-Identifier: GPL-2.0 */
/*
 * route_policy: shared by route_policy.bpf.c and its loader
 * route_policy.c. The route map: host port -> local CID (device).
 */
#ifndef ROUTE_POLICY_H
#define ROUTE_POLICY_H

#define RP_MAX_ROUTES 1024

#endif
