"""Suite raw.inventory_nodes: the compute nodes of the latest delivered inventory.

Not period-bound: the whole current inventory is checked on every run (a few hundred rows).
GPU counts, idle and maximum power feed GPU capacity, energy estimates and the power checks.
"""

from __future__ import annotations

from kirz.validation import make_suite

SUITE = "raw.inventory_nodes"
TABLE = "raw.inventory_nodes"
GRAIN = None
REQUIRES = ("raw.inventory_nodes",)
MAX_GPUS_PER_NODE = 16
MAX_NODE_W = 20000.0

SEVERITY = {
    "inventory_nodes_present": ("critical", "An inventory of compute nodes has been delivered."),
    "inventory_node_unique": ("critical", "Each node is listed once."),
    "inventory_node_name": ("critical", "Node names are plain host names (letters, digits, '.', '_', '-')."),
    "inventory_gpus_range": ("critical", "Each node has between 0 and 16 GPUs."),
    "inventory_cpus_positive": ("critical", "Each node has at least one CPU core."),
    "inventory_power_rated": ("critical", "Each node's idle and maximum power are recorded."),
    "inventory_idle_nonnegative": ("critical", "Each node's idle power is a non-negative number of watts."),
    "inventory_max_above_idle": ("critical", "Each node's maximum power is above its idle power."),
    "inventory_max_w_plausible": ("warning", "No node is rated above 20 kW."),
    "inventory_partition_present": ("warning", "Each node belongs to a Slurm partition."),
}

EXAMPLES = {
    "inventory_node_unique": ["node"],
    "inventory_node_name": ["node"],
    "inventory_gpus_range": ["node", "gpus"],
    "inventory_cpus_positive": ["node", "cpus"],
    "inventory_power_rated": ["node", "idle_w", "max_w"],
    "inventory_idle_nonnegative": ["node", "idle_w"],
    "inventory_max_above_idle": ["node", "idle_w", "max_w"],
    "inventory_max_w_plausible": ["node", "max_w"],
    "inventory_partition_present": ["node", "partition"],
}


def load_frame(con, scope):
    return con.execute(
        """
        select cluster, node, partition, rack, gpus, cpus, idle_w, max_w, ingest_id, line_no,
               idle_w is not null and max_w is not null as power_rated
        from raw.inventory_nodes
        where ingest_id = (select max(ingest_id) from raw.inventory_nodes)
        order by line_no, node
        """
    ).df()


def build_suite():
    import great_expectations as gx

    E = gx.expectations
    return make_suite(SUITE, SEVERITY, EXAMPLES, [
        ("inventory_nodes_present", E.ExpectTableRowCountToBeBetween(min_value=1)),
        ("inventory_node_unique", E.ExpectColumnValuesToBeUnique(column="node")),
        ("inventory_node_name", E.ExpectColumnValuesToMatchRegex(column="node", regex=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")),
        ("inventory_gpus_range", E.ExpectColumnValuesToBeBetween(column="gpus", min_value=0, max_value=MAX_GPUS_PER_NODE)),
        ("inventory_cpus_positive", E.ExpectColumnValuesToBeBetween(column="cpus", min_value=1)),
        ("inventory_power_rated", E.ExpectColumnValuesToBeInSet(column="power_rated", value_set=[True])),
        ("inventory_idle_nonnegative", E.ExpectColumnValuesToBeBetween(column="idle_w", min_value=0)),
        ("inventory_max_above_idle",
         E.ExpectColumnPairValuesAToBeGreaterThanB(column_A="max_w", column_B="idle_w", or_equal=False,
                                                   ignore_row_if="either_value_is_missing")),
        ("inventory_max_w_plausible", E.ExpectColumnValuesToBeBetween(column="max_w", max_value=MAX_NODE_W)),
        ("inventory_partition_present", E.ExpectColumnValuesToNotBeNull(column="partition")),
    ])
