DROP TABLE managed_instances;
DROP TABLE instance_groups;
