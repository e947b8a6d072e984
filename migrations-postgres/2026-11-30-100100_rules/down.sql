DROP TABLE rule_schedule_marks;
DROP TABLE rules;
