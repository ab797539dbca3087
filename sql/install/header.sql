-- classbill install script, assembled from sql/install/*.sql by make.

\echo Use "CREATE EXTENSION classbill" to load this file. \quit
